"""Where a check's time goes: the decision path timed layer by layer, against the floor.

    python bench/layers.py [--n 500] [--rounds 28] [--pin 0]

Each row adds one layer to the one before it, on the same redis-server, interleaved round by
round (medians of per-round means, in µs). Then the server side alone: ``INFO commandstats``
``usec_per_call`` of the floor script and of ``stores/lua/decide.lua`` per algorithm, over
20,000 pipelined calls each. Starts and stops its own redis-server; installs nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics

import _peers
from _harness import FLOOR3_LUA, FLOOR_LUA, RedisServer, per_op_us, print_table, versions

HUGE = ("1000000000/h", "1000000000/m", "1000000000/d")


def server_side(server: RedisServer, decide_lua: str) -> list[tuple[str, str]]:
    client = server.client()
    floor, decide = client.script_load(FLOOR_LUA), client.script_load(decide_lua)
    big, hour = 10**9, 3_600_000
    cases = {
        "floor: one-key INCR script": (floor, 1, "f", 60_000),
        "decide.lua, sliding window": (decide, 1, "k:sw", "", 1, "sw", big, hour, 1, 1),
        "decide.lua, fixed window": (decide, 1, "k:fw", "", 1, "fw", big, hour, 1, 1),
        "decide.lua, token bucket": (decide, 1, "k:tb", "", 1, "tb", big, hour, 1, 1),
        "decide.lua, the three at once": (
            decide, 3, "a:sw", "a:fw", "a:tb", "", 1,
            "sw", big, hour, 1, 1, "fw", big, 60_000, 1, 1, "tb", big, hour, 1, 1,
        ),
    }  # fmt: skip
    rows = []
    pipe = client.pipeline(transaction=False)
    for name, args in cases.items():
        client.config_resetstat()
        for _ in range(20):
            for _ in range(1000):
                pipe.evalsha(*args)
            pipe.execute()
        usec = client.info("commandstats")["cmdstat_evalsha"]["usec_per_call"]
        rows.append((name, f"{usec:.2f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=28)
    parser.add_argument("--pin", type=int, default=0, help="CPU for bench and redis (-1: none)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI: does it still run?)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.rounds = 20, 2

    server = RedisServer().start()
    try:
        if args.pin >= 0:
            assert server.process is not None
            os.sched_setaffinity(0, {args.pin})
            os.sched_setaffinity(server.process.pid, {args.pin})
        _peers.RATES = HUGE
        _peers.configure(server.url)
        from django_ratelimit_guard import check
        from django_ratelimit_guard.conf.settings import guard_settings
        from django_ratelimit_guard.engine import decide, limiter, plan, registry
        from django_ratelimit_guard.stores.redis import script_args
        from django_ratelimit_guard.stores.scripts import DECIDE

        try:
            from django_ratelimit_guard.stores.direct import evalsha_for
        except ImportError:  # a build before the lean path: time redis-py's own

            def evalsha_for(client):  # type: ignore[no-untyped-def]
                return lambda args: client.evalsha(*args)

        raw = server.client()
        floor_sha = raw.script_load(FLOOR_LUA)
        floor3_sha = raw.script_load(FLOOR3_LUA)
        (request,) = _peers.make_requests(1)
        check(request, "p0")  # connect, load the script
        config = guard_settings()
        one = [registry.get_policy("p0")]
        planned = plan.plan(request, one, config)
        hits = [p.hit for p in planned]
        three = [registry.get_policy(name) for name in ("p0", "p1", "p2")]
        hits3 = [p.hit for p in plan.plan(request, three, config)]
        args1 = [DECIDE.sha, 1, *script_args(hits, True, None)]
        store = decide.redis_store()
        lean = evalsha_for(raw)
        floor_args = [floor_sha, 1, "f", 60_000]
        floor3_args = [floor3_sha, 3, "fa", "fb", "fc", 60_000]
        (blocked,) = _peers.make_requests(1, prefix="198.18.0.")
        while check(blocked, "race").allowed:  # a client over its limit: denied from memory next
            pass
        layers = {
            "floor: redis-py evalsha, one-key INCR script": lambda: raw.evalsha(*floor_args),
            "floor script on the lean path (stores/direct.py)": lambda: lean(floor_args),
            "decide.lua through redis-py's evalsha": lambda: raw.evalsha(*args1),
            "RedisStore.hit_many (lean path, metrics)": lambda: store.hit_many(hits),
            "+ breaker: decide.decide": lambda: decide.decide(planned),
            "+ plan, decisions, observers: limiter.decide": lambda: limiter.decide(request, one),
            "check(request, 'p0')": lambda: check(request, "p0"),
            "RedisStore.hit_many, three hits": lambda: store.hit_many(hits3),
            "check(request, 'p0', 'p1', 'p2')": lambda: check(request, "p0", "p1", "p2"),
            "floor over three keys: redis-py evalsha, three-key INCR": (
                lambda: raw.evalsha(*floor3_args)
            ),
            "check(), a blocked client (denied from memory)": lambda: check(blocked, "race"),
        }  # fmt: skip
        samples: dict[str, list[float]] = {name: [] for name in layers}
        for _ in range(args.rounds):
            for name, func in layers.items():
                samples[name] += per_op_us(func, args.n, 1)
        floor = statistics.median(samples[next(iter(layers))])
        floor3 = statistics.median(
            samples["floor over three keys: redis-py evalsha, three-key INCR"]
        )
        rows = []
        previous = None
        for name, values in samples.items():
            med = statistics.median(values)
            step = (
                ""
                if previous is None
                or name.startswith(
                    ("check(", "decide.lua", "RedisStore.hit_many, three", "floor over")
                )
                else f"{med - previous:+.1f}"
            )
            three_keys = f"{med / floor3:.2f}" if "three" in name or "'p2'" in name else ""
            rows.append((name, f"{med:.1f}", step, f"{med / floor:.2f}", three_keys))
            previous = med
        load = os.getloadavg()
        print(
            f"{versions()}, {os.cpu_count()} CPUs, load {load[0]:.2f}; "
            f"n={args.n} x {args.rounds} rounds, "
            f"{'pinned to CPU ' + str(args.pin) if args.pin >= 0 else 'not pinned'}"
        )
        print_table(
            "Client side, µs per call (medians); x floor: the one-key floor; x 3-key: the floor "
            "over three keys (targets: one policy <= 1.05x floor, three <= 1.15x 3-key, a blocked "
            "client <= 0.05x floor)",
            rows,
            ("layer", "µs", "step", "x floor", "x 3-key"),
        )
        print_table(
            "Server side, INFO commandstats usec_per_call (20,000 calls each)",
            server_side(server, DECIDE.lua),
            ("script", "µs in Redis"),
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
