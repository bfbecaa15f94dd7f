"""Cost of a decision through the public check() API, against the floor of an atomic check:
a raw redis-py EVALSHA of a one-key fixed-window script on the same Redis, in the same run.

    python bench/check_overhead.py [--n 3000] [--reps 9]

Prints medians over repetitions and ratios to the floor; also races 8 processes on one key with
limit 100 and prints how many were admitted. Starts (and stops) its own redis-server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform

from _harness import FLOOR_LUA, RedisServer, configure_django, median, per_op_us, print_table

POLICIES = {
    "one": {"rate": "1000000000/h", "key": "ip"},
    "two": {"rate": "1000000000/m", "key": "ip", "algorithm": "fixed_window"},
    "three": {"rate": "1000000000/h", "key": "ip", "algorithm": "token_bucket"},
}


def race(url: str, n: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    configure_django(url, {"race": {"rate": "100/h", "key": "ip", "algorithm": "fixed_window"}})
    from django.test import RequestFactory

    from django_ratelimit_guard import check

    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.1")
    queue.put(sum(check(request, "race").allowed for _ in range(n)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI: does it still run?)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.reps = 50, 2

    server = RedisServer().start()
    try:
        configure_django(server.url, POLICIES)
        from django.test import RequestFactory

        from django_ratelimit_guard import check

        raw = server.client()
        sha = raw.script_load(FLOOR_LUA)
        request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.1")
        check(request, "one")  # connect and load the script

        # Interleave the measurements so machine noise hits every row alike.
        rows: dict[str, list[float]] = {"floor": [], "one": [], "three": []}
        for _ in range(args.reps):
            rows["floor"] += per_op_us(lambda: raw.evalsha(sha, 1, "floor", 60000), args.n, 1)
            rows["one"] += per_op_us(lambda: check(request, "one"), args.n, 1)
            rows["three"] += per_op_us(lambda: check(request, "one", "two", "three"), args.n, 1)
        floor = median(rows["floor"])
        table = [
            ("raw EVALSHA, one key (floor)", f"{floor:.1f}", "1.00", ""),
            (
                "check(), one policy",
                f"{median(rows['one']):.1f}",
                f"{median(rows['one']) / floor:.2f}",
                "<= 1.10",
            ),
            (
                "check(), three policies",
                f"{median(rows['three']):.1f}",
                f"{median(rows['three']) / floor:.2f}",
                "<= 1.15",
            ),
        ]
        print(
            f"python {platform.python_version()}, redis-server {raw.info()['redis_version']}, "
            f"n={args.n} x {args.reps} repetitions"
        )
        print_table("Per decision (median µs)", table, ("path", "µs", "× floor", "target"))

        server.flush()
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=race, args=(server.url, 40, queue)) for _ in range(8)]
        for p in procs:
            p.start()
        admitted = sum(queue.get(timeout=120) for _ in procs)
        for p in procs:
            p.join()
        print_table(
            "8 processes x 40 requests on one key, limit 100",
            [("admitted", str(admitted), "100")],
            ("", "count", "expected"),
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
