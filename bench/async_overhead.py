"""Cost of an async decision through acheck() on redis.asyncio, against the floor of a raw
redis.asyncio EVALSHA on the same Redis in the same event loop, and against the sync_to_async path
(the sync check() in a worker thread, as the async path did before it went native).

    python bench/async_overhead.py [--n 2000] [--reps 7] [--pin 0]

Prints medians over repetitions and ratios to the floor. Starts (and stops) its own redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable

from _harness import FLOOR_LUA, RedisServer, configure_django, median, print_table, versions

POLICIES = {
    "one": {"rate": "1000000000/h", "key": "ip"},
    "two": {"rate": "1000000000/m", "key": "ip", "algorithm": "fixed_window"},
    "three": {"rate": "1000000000/h", "key": "ip", "algorithm": "token_bucket"},
}


async def per_op_us(func: Callable[[], Awaitable[object]], n: int) -> float:
    for _ in range(min(n, 200)):
        await func()
    start = time.perf_counter()
    for _ in range(n):
        await func()
    return (time.perf_counter() - start) / n * 1e6


async def run(server: RedisServer, n: int, reps: int, pinned: bool) -> None:
    import redis.asyncio as aredis
    from asgiref.sync import sync_to_async
    from django.test import RequestFactory

    from django_ratelimit_guard import acheck, check
    from django_ratelimit_guard.stores.scripts import DECIDE

    raw = aredis.Redis.from_url(server.url, socket_timeout=0.1, socket_connect_timeout=0.1)
    sha = await raw.script_load(FLOOR_LUA)
    await raw.script_load(DECIDE.lua)
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.1")
    threaded = sync_to_async(check, thread_sensitive=False)
    decide_args = ["rlg:{x}:one:sw", "", 1, "sw", 1_000_000_000, 3_600_000, 1, 1]

    rows: dict[str, list[float]] = {
        k: [] for k in ("floor", "floor_decide", "one", "three", "thread")
    }
    for _ in range(reps):  # interleaved, so machine noise hits every row alike
        rows["floor"].append(await per_op_us(lambda: raw.evalsha(sha, 1, "floor", 60000), n))
        rows["floor_decide"].append(
            await per_op_us(lambda: raw.evalsha(DECIDE.sha, 1, *decide_args), n)
        )
        rows["one"].append(await per_op_us(lambda: acheck(request, "one"), n))
        rows["three"].append(await per_op_us(lambda: acheck(request, "one", "two", "three"), n))
        rows["thread"].append(await per_op_us(lambda: threaded(request, "one"), n))
    await raw.aclose()
    floor = median(rows["floor"])

    def row(label: str, key: str, target: str = "") -> tuple[str, ...]:
        value = median(rows[key])
        spread = statistics.pstdev(rows[key]) if len(rows[key]) > 1 else 0.0
        return (label, f"{value:.1f}", f"±{spread:.1f}", f"{value / floor:.2f}", target)

    print(
        f"{versions()}, redis-server {server.client().info()['redis_version']}, "
        f"n={n} x {reps} repetitions, one event loop, {'pinned' if pinned else 'not pinned'}"
    )
    print_table(
        "Per async decision (median µs)",
        [
            row("raw redis.asyncio EVALSHA, one-key INCR script (floor)", "floor"),
            row("raw redis.asyncio EVALSHA of decide.lua, one hit", "floor_decide"),
            row("acheck(), one policy", "one", "<= 1.15"),
            row("acheck(), three policies", "three"),
            row("sync_to_async(check)(), one policy", "thread", "> acheck"),
        ],
        ("path", "µs", "spread", "× floor", "target"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--pin", type=int, default=0, help="CPU for bench and redis (-1: none)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI: does it still run?)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.reps = 50, 2
    server = RedisServer().start()
    try:
        if args.pin >= 0:  # as compare.py and layers.py: one core, figures that repeat
            assert server.process is not None
            os.sched_setaffinity(0, {args.pin})
            os.sched_setaffinity(server.process.pid, {args.pin})
        configure_django(server.url, POLICIES)
        asyncio.run(run(server, args.n, args.reps, args.pin >= 0))
    finally:
        server.close()


if __name__ == "__main__":
    main()
