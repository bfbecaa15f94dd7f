"""A check in CPU instructions: figures that noise on the machine cannot move.

    python bench/instructions.py [--n 5000] [--script-calls 2000] [--smoke]

Times on a shared VM swing by ±20 % from one minute to the next; instruction counts do not.
Two tables, each the total of a run of N calls minus that of a run of none, divided by N:

1. the client side: ``check()`` with one and with three policies under valgrind's callgrind,
   the Redis round trip replaced by a stub that answers at once (the lean path's ``packed``
   call, so everything of ours runs: plan, packing, breaker, reply parsing, decisions, metrics);
   and ``check()`` of a client the stub denied (then answered from memory: ``engine/local.py``);
2. the server side: a ``redis-server`` of our own under callgrind running the floor scripts (one
   key, three keys) and ``stores/lua/decide.lua`` (one sliding-window hit; three hits), pipelined.

Needs ``valgrind`` (Debian: ``apt-get install -y valgrind``) and ``redis-server``; installs
nothing. A change to the decision path should not raise these figures without a reason.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, print_table, versions

HERE = Path(__file__).resolve()


def child(n: int, policies: int, warmup: int, blocked: bool) -> None:
    """Configure Django, stub the store's round trip, warm up, then run ``n`` checks (of a client
    the stub denied once, when ``blocked``: answered from memory afterwards)."""
    import _peers

    _peers.RATES = ("1000000000/h", "1000000000/m", "1000000000/d")
    _peers.configure("redis://127.0.0.1:1/0")  # never connected: the round trip is stubbed
    from django_ratelimit_guard import check
    from django_ratelimit_guard.engine import decide
    from django_ratelimit_guard.ops import top_clients

    # What decide.lua answers for this many hits: remaining, reset_ms, retry_ms each (allowed,
    # or denied for the next hour).
    hit = [0, 3_600_000, 3_600_000] if blocked else [999_999_997, 1_293_043, 0]
    reply = hit * policies

    class Stub:
        """Answers at once, as little work as possible (its cost is counted too)."""

        def __call__(self, args: list[object]) -> list[int]:
            return reply

        def packed(self, command: bytes) -> list[int]:
            return reply

    store = decide.redis_store()
    store._evalsha = Stub()  # type: ignore[union-attr]
    # The most-limited tally goes to Redis at most once a second of wall time: under callgrind a
    # second is a few hundred checks, not tens of thousands, and that call (to no Redis here)
    # would swamp the figure. Its per-request work (the tally) is counted.
    top_clients.FLUSH_SECONDS = float("inf")
    (request,) = _peers.make_requests(1)
    names = ("p0", "p1", "p2")[:policies]
    for _ in range(warmup):
        result = check(request, *names)
    assert result.allowed is not blocked
    assert len(result) == policies
    for _ in range(n):
        check(request, *names)


def instructions(n: int, policies: int, warmup: int, blocked: bool = False) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, str(HERE), "--child", str(n), str(policies), str(warmup),
             str(int(blocked))],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
            # Hash randomization moves counts by ~3 %, and the fleet channel's poller thread
            # (every 2 s of wall time: callgrind's slow seconds) by as much again.
            env={**os.environ, "PYTHONHASHSEED": "0", "RATELIMIT_GUARD_CONTROL_POLL_SECONDS": "0"},
        )  # fmt: skip
        match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert match, "callgrind wrote no totals"
        return int(match.group(1))


def redis_instructions(args: list[object], script: str, calls: int) -> int:
    """Instructions a callgrind-run redis-server spends on ``calls`` pipelined EVALSHAs."""
    import redis

    from tests.support.redis_servers import free_port, redis_server_binary

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        port = free_port()
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", redis_server_binary(),
             "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            client = redis.Redis(port=port, socket_timeout=60)
            for _ in range(300):  # valgrind starts slowly
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.1)
            sha = client.script_load(script)
            pipe = client.pipeline(transaction=False)
            for _ in range(calls):
                pipe.evalsha(sha, *args)
            pipe.execute()
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # SHUTDOWN closes the connection
        finally:
            server.wait(60)
        match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert match, "callgrind wrote no totals"
        return int(match.group(1))


def server_rows(calls: int, smoke: bool = False) -> list[tuple[str, str]]:
    from _harness import FLOOR3_LUA, FLOOR_LUA

    from django_ratelimit_guard.stores.scripts import DECIDE

    big, hour = 10**9, 3_600_000
    key = "rlg:{0123456789abcdef0123456789abcdef}:p"
    cases = {
        "floor: one-key INCR script": (FLOOR_LUA, [1, "floor", 60_000]),
        "floor: three-key INCR script": (FLOOR3_LUA, [3, "fa", "fb", "fc", 60_000]),
        "decide.lua, one sliding-window hit": (
            DECIDE.lua, [1, key + ":sw", "", 1, "sw", big, hour, 1, 1]
        ),
        "decide.lua, three hits (sw, fw, tb)": (DECIDE.lua, [
            3, key + "a:sw", key + "b:fw", key + "c:tb", "", 1,
            "sw", big, hour, 1, 1, "fw", big, 60_000, 1, 1, "tb", big, hour, 1, 1,
        ]),
    }  # fmt: skip
    rows = []
    for name, (script, args) in list(cases.items())[: 1 if smoke else None]:
        # --smoke: one callgrind run, not two (the start-up is not subtracted: does it still run?)
        base = 0 if smoke else redis_instructions(args, script, 0)
        per_call = (redis_instructions(args, script, calls) - base) / calls
        rows.append((name, f"{per_call:,.0f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--script-calls", type=int, default=2000)
    parser.add_argument("--child", nargs=4, type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, two rows (CI: does it still run?)"
    )
    args = parser.parse_args()
    if args.child:
        n, policies, warmup, blocked = args.child
        child(n, policies, warmup, bool(blocked))
        return
    warmup = 2000
    cases = [(1, False), (3, False), (1, True)]
    if args.smoke:
        args.n, args.script_calls, warmup, cases = 50, 20, 50, [(1, False)]
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install -y valgrind")
    rows = []
    for policies, blocked in cases:
        base = 0 if args.smoke else instructions(0, policies, warmup, blocked)
        per_check = (instructions(args.n, policies, warmup, blocked) - base) / args.n
        what = f"check() with {policies} polic{'y' if policies == 1 else 'ies'}"
        rows.append((what + (", a blocked client" if blocked else ""), f"{per_check:,.0f}"))
    smoke = " (--smoke: start-up not subtracted, figures not per call)" if args.smoke else ""
    print(f"{versions()}; {os.cpu_count()} CPUs; n={args.n}, Redis round trip stubbed{smoke}")
    print_table(
        "Instructions per check (callgrind), client side only", rows, ("call", "instructions")
    )
    print_table(
        "Instructions per EVALSHA inside redis-server "
        f"(callgrind, {args.script_calls} pipelined calls)",
        server_rows(args.script_calls, args.smoke),
        ("script", "instructions"),
    )


if __name__ == "__main__":
    main()
