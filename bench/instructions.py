"""The client side of a check in CPU instructions: a figure that noise on the machine cannot move.

    python bench/instructions.py [--n 5000]

Times on a shared VM swing by ±20 % from one minute to the next; instruction counts do not.
This script runs ``check()`` with one and with three policies under valgrind's callgrind, with
the Redis round trip replaced by a stub that answers at once (the lean path's ``packed`` call,
so everything of ours runs: plan, packing, breaker, reply parsing, decisions, metrics), and
prints instructions per check: the total of a run of N checks minus that of a run of none,
divided by N. Needs ``valgrind`` (Debian: ``apt-get install -y valgrind``); no Redis, installs
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
from pathlib import Path

from _harness import ROOT, print_table, versions

HERE = Path(__file__).resolve()


def child(n: int, policies: int) -> None:
    """Configure Django, stub the store's round trip, warm up, then run ``n`` checks."""
    import _peers

    _peers.RATES = ("1000000000/h", "1000000000/m", "1000000000/d")
    _peers.configure("redis://127.0.0.1:1/0")  # never connected: the round trip is stubbed
    from django_ratelimit_guard import check, guard

    # What decide.lua answers for this many allowed hits: remaining, reset_ms, retry_ms each.
    reply = [999_999_997, 1_293_043, 0] * policies

    class Stub:
        """Answers at once, as little work as possible (its cost is counted too)."""

        def __call__(self, args: list[object]) -> list[int]:
            return reply

        def packed(self, command: bytes) -> list[int]:
            return reply

    store = guard.redis_store()
    store._evalsha = Stub()  # type: ignore[union-attr]
    (request,) = _peers.make_requests(1)
    names = ("p0", "p1", "p2")[:policies]
    for _ in range(2000):
        result = check(request, *names)
    assert result.allowed
    assert len(result) == policies
    for _ in range(n):
        check(request, *names)


def instructions(n: int, policies: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, str(HERE), "--child", str(n), str(policies)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert match, "callgrind wrote no totals"
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install -y valgrind")
    rows = []
    for policies in (1, 3):
        base = instructions(0, policies)
        per_check = (instructions(args.n, policies) - base) / args.n
        rows.append((f"check() with {policies} polic{'y' if policies == 1 else 'ies'}", f"{per_check:,.0f}"))
    print(f"{versions()}; {os.cpu_count()} CPUs; n={args.n}, Redis round trip stubbed")
    print_table("Instructions per check (callgrind), client side only", rows, ("call", "instructions"))


if __name__ == "__main__":
    main()
