"""What the issue #15 capabilities cost per request, against the floor measured in the same run.

Run:  python bench/capabilities.py [--n 3000] [--reps 7]
Starts its own redis-server. Rows (median µs of ``reps`` runs of ``n`` calls, and the ratio to a
raw redis-py ``EVALSHA`` of a one-key INCR script — the floor of any Redis-backed limiter):

* ``check()`` on a plain policy (one Redis round trip), for reference;
* ``check()`` on an exempted request — by ``exempt_ips`` and by ``skip_if`` — with the Redis
  commands it sent (``INFO commandstats``: 0 expected);
* a client over its limit (a 429 decided by Redis), and a client blocked by a runtime override
  (``block``: answered in process, 0 commands) — both pay the rejection's subscribers (metrics,
  the most-limited clients, ``request_limited``);
* a concurrency slot taken and given back (``engine/concurrency.py``: two round trips);
* two raw ``EVALSHA`` round trips, the floor of an acquire + release.
"""

from __future__ import annotations

import argparse

from _harness import (
    FLOOR_LUA,
    RedisServer,
    configure_django,
    median,
    per_op_us,
    print_table,
    versions,
)


def commands(client, run) -> int:  # type: ignore[no-untyped-def]
    client.config_resetstat()
    run()
    stats = client.info("commandstats")
    return sum(
        v["calls"] for k, v in stats.items() if not k.startswith(("cmdstat_config", "cmdstat_info"))
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="200 calls, 1 rep (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.reps = 200, 1
    server = RedisServer().start()
    try:
        configure_django(
            server.url,
            {
                "plain": {"rate": "1000000000/m", "key": "ip"},
                "office": {"rate": "1000000000/m", "key": "ip", "exempt_ips": ["10.0.0.0/8"]},
                "health": {"rate": "1000000000/m", "key": "ip", "skip_if": lambda r: True},
                "exports": {"concurrency": 1000, "key": "ip"},
                "tight": {"rate": "1/h", "key": "ip"},
            },
        )
        from django.test import RequestFactory

        from django_ratelimit_guard import check
        from django_ratelimit_guard.conf.settings import guard_settings
        from django_ratelimit_guard.engine import concurrency, overrides
        from django_ratelimit_guard.engine.overrides import BLOCK, Rule

        rf = RequestFactory()
        outside = rf.get("/", REMOTE_ADDR="203.0.113.7")
        inside = rf.get("/", REMOTE_ADDR="10.1.2.3")
        raw = server.client()
        sha = raw.script_load(FLOOR_LUA)
        exports = guard_settings().policies["exports"]

        def slot() -> None:
            leases, _ = concurrency.acquire(outside, [exports])
            concurrency.release(leases)

        def floor() -> None:
            raw.evalsha(sha, 1, "bench:floor", 60000)

        def two_floors() -> None:
            raw.evalsha(sha, 1, "bench:floor", 60000)
            raw.evalsha(sha, 1, "bench:floor", 60000)

        runs = [
            ("raw EVALSHA (floor)", floor),
            ("check(), plain policy", lambda: check(outside, "plain")),
            ("check(), exempt_ips match", lambda: check(inside, "office")),
            ("check(), skip_if true", lambda: check(outside, "health")),
        ]
        rows = []
        figures = {}
        for name, fn in runs:
            figures[name] = median(per_op_us(fn, args.n, args.reps))
            rows.append((name, fn))
        limited_client = rf.get("/", REMOTE_ADDR="198.51.100.8")
        for _ in range(3):
            check(limited_client, "tight")
        over = lambda: check(limited_client, "tight")  # noqa: E731
        figures["check(), over the limit (429)"] = median(per_op_us(over, args.n, args.reps))
        rows.append(("check(), over the limit (429)", over))
        blocked_client = rf.get("/", REMOTE_ADDR="198.51.100.9")
        overrides.install([Rule(1, "plain", "198.51.100.9", BLOCK, None, None)])
        block = lambda: check(blocked_client, "plain")  # noqa: E731
        figures["check(), override block"] = median(per_op_us(block, args.n, args.reps))
        rows.append(("check(), override block", block))
        figures["concurrency acquire + release"] = median(per_op_us(slot, args.n, args.reps))
        rows.append(("concurrency acquire + release", slot))
        figures["2 × raw EVALSHA (floor)"] = median(per_op_us(two_floors, args.n, args.reps))
        rows.append(("2 × raw EVALSHA (floor)", two_floors))
        base = figures["raw EVALSHA (floor)"]
        table = [
            (name, f"{figures[name]:.1f}", f"{figures[name] / base:.2f}×", str(commands(raw, fn)))
            for name, fn in rows
        ]
        print(versions() + f"; n={args.n}, reps={args.reps}; a shared 2-core machine")
        print_table(
            "Per call: median µs, ratio to one raw EVALSHA, Redis commands one call caused "
            "(INFO commandstats, script internals included)",
            table,
            ("call", "µs", "× floor", "Redis commands"),
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
