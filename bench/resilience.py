"""Resilience figures: open-breaker decisions, memory store cost, bytes per entry, frozen Redis.

Run:  PYTHONPATH=. /work/venv311/bin/python bench/resilience.py [--smoke]
Starts its own redis-server on a free port (tests/support/redis_servers.py) and stops it afterwards.
Every figure is a median (or a percentile) from this run; ratios compare figures of the same run.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django
from django.conf import settings

from tests.support.redis_servers import RedisServer

SOCKET_TIMEOUT = 0.1
#: --smoke (CI: does it still run?): every size divided by this.
SCALE = 50 if "--smoke" in sys.argv else 1


def sized(n: int) -> int:
    return max(10, n // SCALE)


def configure(url: str) -> None:
    settings.configure(
        SECRET_KEY="bench",
        INSTALLED_APPS=["django_ratelimit_guard"],
        CACHES={
            "ratelimit": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "OPTIONS": {
                    "SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT,
                    "SOCKET_TIMEOUT": SOCKET_TIMEOUT,
                },
            }
        },
        RATELIMIT_GUARD={
            "CACHE_ALIAS": "ratelimit",
            "POLICIES": {"api": {"rate": "1000000/m", "key": "ip", "fail_mode": "memory"}},
        },
    )
    django.setup()


def per_call(func: Callable[[], object], n: int, rounds: int = 7) -> float:
    """Median over ``rounds`` of the mean seconds per call over ``n`` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            func()
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def main() -> None:
    server = RedisServer().start()
    try:
        configure(server.url)
        rows = run(server)
    finally:
        server.close()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>14}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>14}  {target}")


def run(server: RedisServer) -> list[tuple[str, str, str]]:
    from django_redis import get_redis_connection

    from django_ratelimit_guard.conf.settings import guard_settings, reset_all
    from django_ratelimit_guard.core.algorithms import Algorithm, Hit
    from django_ratelimit_guard.core.rates import Rate
    from django_ratelimit_guard.engine import decide
    from django_ratelimit_guard.engine.breakers import get_breaker
    from django_ratelimit_guard.engine.plan import PlannedHit
    from django_ratelimit_guard.stores.fallback import fallback_store
    from django_ratelimit_guard.stores.memory import MemoryStore

    rows: list[tuple[str, str, str]] = []
    us = lambda seconds: f"{seconds * 1e6:.1f} us"  # noqa: E731

    raw = get_redis_connection("ratelimit")
    raw.ping()
    rtt = per_call(raw.ping, sized(500))
    rows.append(("raw Redis round trip (PING)", us(rtt), "reference"))

    policy = guard_settings().policies["api"]
    rate = Rate(1_000_000, 60)
    planned = [
        PlannedHit(
            Hit(
                "rlg:{bench}:api:sw", Algorithm.SLIDING_WINDOW, rate.limit, rate.window_ms, 1, True
            ),
            policy,
            rate,
            rate,
        )
    ]
    healthy = per_call(lambda: decide.decide(planned), sized(1000))
    rows.append(("decision, healthy Redis", us(healthy), f"{healthy / rtt:.2f}x RTT"))
    get_breaker("ratelimit").force_open("bench")
    forced_open = per_call(lambda: decide.decide(planned), sized(20_000))
    rows.append(("decision, breaker open (memory)", us(forced_open), ""))
    rows.append(("  ratio open / healthy", f"{forced_open / healthy:.3f}x", "≤ 0.10x"))
    get_breaker("ratelimit").reset()

    # Memory store under a flood of new keys, at 10 % and 100 % fill of MAX_ENTRIES = 50,000.
    capacity, flood = sized(50_000), sized(5_000)
    hit_at = lambda key: [Hit(key, Algorithm.SLIDING_WINDOW, 10, 60_000, 1, True)]  # noqa: E731
    flood_cost = {}
    for fill in (0.1, 1.0):
        samples = []
        for round_ in range(5):
            store = MemoryStore(capacity, warn_ratio=1.0)
            for i in range(int(capacity * fill)):
                store.hit_many(hit_at(f"rlg:{{old{i}}}:api:sw"))
            keys = [hit_at(f"rlg:{{new{round_}-{i}}}:api:sw") for i in range(flood)]
            start = time.perf_counter()
            for hits in keys:
                store.hit_many(hits)
            samples.append((time.perf_counter() - start) / flood)
        flood_cost[fill] = statistics.median(samples)
        rows.append((f"memory store, new key at {fill:.0%} fill", us(flood_cost[fill]), ""))
    rows.append(("  ratio 100 % / 10 %", f"{flood_cost[1.0] / flood_cost[0.1]:.2f}x", "≤ 1.5x"))

    # Bytes per entry: the whole store at 50,000 entries, keys included (the store keeps them).
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    store = MemoryStore(capacity)
    for _ in range(capacity):
        store.hit_many(hit_at(f"rlg:{{{os.urandom(12).hex()}}}:api:sw"))
    gc.collect()
    total = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    key_bytes = sys.getsizeof("rlg:{" + "0" * 24 + "}:api:sw")
    rows.append(
        ("bytes per entry (tracemalloc, keys included)", f"{total / capacity:.0f} B", "≤ 256 B")
    )
    rows.append(("  of which the key string", f"{key_bytes} B", ""))
    del store

    # Frozen Redis, SOCKET_TIMEOUT 0.1 s, default breaker: per-decision latency, one thread.
    reset_all()
    planned_outage = [
        PlannedHit(
            Hit(
                "rlg:{frozen}:api:sw", Algorithm.SLIDING_WINDOW, rate.limit, rate.window_ms, 1, True
            ),
            policy,
            rate,
            rate,
        )
    ]
    decide.decide(planned_outage)  # connected
    breaker = get_breaker("ratelimit")
    server.freeze()
    latencies: list[float] = []
    opened_at_index = None
    try:
        deadline = time.monotonic() + (2.0 if SCALE == 1 else 1.0)
        while time.monotonic() < deadline and len(latencies) < 50_000:
            start = time.perf_counter()
            decide.decide(planned_outage)
            latencies.append(time.perf_counter() - start)
            if opened_at_index is None and breaker.state.value == "open":
                opened_at_index = len(latencies)
    finally:
        server.thaw()
    latencies_sorted = sorted(latencies)
    p99 = latencies_sorted[int(len(latencies_sorted) * 0.99)]
    after = latencies[opened_at_index:] if opened_at_index else []
    waited = sum(1 for t in latencies if t >= SOCKET_TIMEOUT * 0.9)
    rows.append(("frozen Redis: decisions in 2 s", f"{len(latencies)}", ""))
    rows.append(
        ("frozen Redis: decisions that waited on Redis", f"{waited}", "≤ FAILURE_THRESHOLD (5)")
    )
    rows.append(
        ("frozen Redis: max latency", f"{max(latencies) * 1000:.1f} ms", "≤ one socket timeout")
    )
    rows.append(("frozen Redis: p99 latency", f"{p99 * 1000:.3f} ms", "≤ 150 ms"))
    median_after = statistics.median(after) if after else float("nan")
    fallback = fallback_store()
    plain_hits = [
        Hit("rlg:{plain}:api:sw", Algorithm.SLIDING_WINDOW, rate.limit, rate.window_ms, 1, True)
    ]
    plain = per_call(lambda: fallback.hit_many(plain_hits), sized(20_000))
    rows.append(("frozen Redis: median after opening", us(median_after), ""))
    rows.append(("plain memory-store decision (hit_many)", us(plain), ""))
    rows.append(("  ratio after opening / plain memory", f"{median_after / plain:.2f}x", "≤ 1.1x"))
    rows.append(
        ("  ratio after opening / forced-open decision", f"{median_after / forced_open:.2f}x", "")
    )
    return rows


if __name__ == "__main__":
    main()
