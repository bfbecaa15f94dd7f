"""django-ratelimit-guard against the limiters users pick instead, on one Redis, in one run.

    /work/venv311/bin/python bench/compare.py [--n 2000] [--rounds 7] [--clients 500]

Needs the ``bench`` extra (django-ratelimit, djangorestframework, limits). Starts its own
redis-server on a free port (``tests/support/redis_servers.py``) and stops it afterwards; installs
nothing. Prints four tables:

1. per-check latency, median and p99 of individually timed checks, for one and for three
   policies, and the ratio of each median to the floor: a raw redis-py ``EVALSHA`` of a one-key
   INCR script on the same server. Rows are interleaved round by round so machine noise hits every
   row alike; requests rotate over ``--clients`` client addresses;
2. over-admission: 8 processes race on one key with limit 100 (40 attempts each);
3. Redis frozen (SIGSTOP) and 4. Redis stopped: what each check does (allows, denies, raises)
   and how long it takes. Every outage call runs in a worker thread bounded by a timeout, so a
   peer that hangs is reported as hanging instead of hanging the bench.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import _peers
from _harness import FLOOR_LUA, RedisServer, print_table, versions

RACE_PROCESSES = 8
RACE_ATTEMPTS = 40
RACE_LIMIT = 100
OUTAGE_CALLS = 8
OUTAGE_BOUND = 3.0  # seconds one outage call may take before it counts as hanging


def timed_samples(func: Any, requests: list[Any], n: int, offset: int) -> list[float]:
    """Microseconds of each of ``n`` calls (one request per call, rotating)."""
    clock = time.perf_counter_ns
    samples = []
    count = len(requests)
    for i in range(offset, offset + n):
        request = requests[i % count]
        start = clock()
        func(request)
        samples.append((clock() - start) / 1000)
    return samples


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def latency(
    server: RedisServer, peers: list[_peers.Peer], args: argparse.Namespace
) -> list[tuple[str, ...]]:
    raw = server.client()
    sha = raw.script_load(FLOOR_LUA)
    requests = _peers.make_requests(args.clients)
    rows: dict[str, Any] = {"floor": lambda r: raw.evalsha(sha, 1, "floor", 3_600_000)}
    for peer in peers:
        rows[f"{peer.name}|one"] = peer.one
        rows[f"{peer.name}|three"] = peer.three
    for func in rows.values():  # connect, load scripts, warm caches
        for request in requests[:50]:
            func(request)
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for round_ in range(args.rounds):
        for name, func in rows.items():
            samples[name] += timed_samples(func, requests, args.n, round_ * args.n)
    floor = statistics.median(samples["floor"])
    table = [
        (
            "raw EVALSHA, one-key INCR (floor)",
            "1",
            f"{floor:.1f}",
            f"{p99(samples['floor']):.1f}",
            "1.00",
        )
    ]
    for peer in peers:
        for what, label in (("one", "1"), ("three", "3")):
            values = samples[f"{peer.name}|{what}"]
            med = statistics.median(values)
            table.append(
                (peer.name, label, f"{med:.1f}", f"{p99(values):.1f}", f"{med / floor:.2f}")
            )
    return table


def _race_worker(url: str, names: list[str], barrier: Any, queue: Any) -> None:
    _peers.configure(url, RACE_LIMIT)
    (request,) = _peers.make_requests(1)
    checks = {name: _peers.race_check(name, url, RACE_LIMIT) for name in names}
    for name in names:
        barrier.wait(timeout=60)
        admitted = sum(bool(checks[name](request)) for _ in range(RACE_ATTEMPTS))
        queue.put((name, admitted))


def race(server: RedisServer, names: list[str]) -> list[tuple[str, ...]]:
    server.flush()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACE_PROCESSES)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_race_worker, args=(server.url, names, barrier, queue))
        for _ in range(RACE_PROCESSES)
    ]
    for p in procs:
        p.start()
    admitted = dict.fromkeys(names, 0)
    try:
        for _ in range(RACE_PROCESSES * len(names)):
            name, count = queue.get(timeout=180)
            admitted[name] += count
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    attempts = RACE_PROCESSES * RACE_ATTEMPTS
    return [
        (name, str(attempts), str(count), f"{count - RACE_LIMIT:+d}")
        for name, count in admitted.items()
    ]


def _describe(value: object) -> str:
    if isinstance(value, BaseException):
        return f"raises {type(value).__name__}"
    source = getattr(value, "source", None)  # our Result says who decided
    verdict = "allows" if getattr(value, "allowed", value) else "denies"
    return f"{verdict} ({source})" if source else verdict


def outage_behaviour(peers: list[_peers.Peer]) -> dict[str, tuple[str, ...]]:
    """Per peer: what its checks did, how many waited, the first and the last check's time."""
    requests = _peers.make_requests(1)
    pool = ThreadPoolExecutor(max_workers=len(peers) + 1)
    results = {}
    for peer in peers:
        check = peer.outage or peer.one
        outcomes: list[str] = []
        times: list[float] = []
        for _ in range(OUTAGE_CALLS):

            def call(check: Any = check) -> object:
                try:
                    return check(requests[0])
                except Exception as exc:  # what the peer does is the figure we want
                    return exc

            start = time.perf_counter()
            future = pool.submit(call)
            try:
                outcome = _describe(future.result(timeout=OUTAGE_BOUND))
            except FutureTimeout:
                outcomes.append(f"hangs (> {OUTAGE_BOUND:.0f} s)")
                times.append(OUTAGE_BOUND)
                break
            times.append(time.perf_counter() - start)
            if outcome not in outcomes:
                outcomes.append(outcome)
        waited = sum(t >= _peers.SOCKET_TIMEOUT / 2 for t in times)
        results[peer.name] = (
            ", then ".join(outcomes),
            f"{waited} of {len(times)}",
            f"{times[0] * 1000:.1f}",
            f"{times[-1] * 1000:.3f}",
        )
    pool.shutdown(wait=False, cancel_futures=True)
    return results


def reset_guard() -> None:
    from django_ratelimit_guard.engine.breakers import all_breakers

    for breaker in all_breakers().values():
        breaker.reset()


def pin(server: RedisServer, cpus: set[int] | None) -> None:
    """Pin this process and the redis-server to ``cpus`` (None: every CPU again)."""
    cpus = cpus or set(range(os.cpu_count() or 1))
    assert server.process is not None
    os.sched_setaffinity(0, cpus)
    os.sched_setaffinity(server.process.pid, cpus)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="checks per row per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clients", type=int, default=500, help="distinct client addresses")
    parser.add_argument(
        "--pin",
        type=int,
        default=0,
        help="CPU to pin the bench and its redis-server to while timing checks (-1: no pinning). "
        "On one CPU a round trip is two context switches; across idle CPUs it also pays their "
        "wake-up latency, which on a VM varies from 25 to 100+ µs from one minute to the next.",
    )
    parser.add_argument("--skip-race", action="store_true")
    parser.add_argument(
        "--latency-only", action="store_true", help="only the per-check table (before/after runs)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, no race (CI: does it still run?)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.n, args.rounds, args.clients, args.skip_race = 20, 1, 5, True

    server = RedisServer().start()
    try:
        _peers.configure(server.url)
        peers = _peers.all_peers(server.url)
        version = server.client().info()["redis_version"]
        load = os.getloadavg()
        pinned = f"pinned to CPU {args.pin}" if args.pin >= 0 else "not pinned"
        print(
            f"{versions()}, redis-server {version}, {os.cpu_count()} CPUs, "
            f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; n={args.n} x {args.rounds} rounds, "
            f"{args.clients} clients, {pinned}; socket timeouts {_peers.SOCKET_TIMEOUT} s"
        )
        if args.pin >= 0:
            pin(server, {args.pin})
        table = latency(server, peers, args)
        pin(server, None)  # the race and the outages run on every CPU
        print_table(
            "Per check, µs (each call timed; median and p99 over all rounds); "
            "ratio of the median to the floor's",
            table,
            ("limiter", "policies", "median", "p99", "x floor"),
        )
        if args.latency_only:
            return
        if not args.skip_race:
            print_table(
                f"Over-admission: {RACE_PROCESSES} processes x {RACE_ATTEMPTS} attempts "
                f"on one key, limit {RACE_LIMIT}",
                race(server, [p.name for p in peers]),
                ("limiter", "attempts", "admitted", "over limit"),
            )
        server.freeze()
        try:
            frozen = outage_behaviour(peers)
        finally:
            server.thaw()
        time.sleep(0.5)  # let hung peers' calls finish before the next scenario
        reset_guard()
        server.stop()
        stopped = outage_behaviour(peers)
        rows = [(p.name, "frozen", *frozen[p.name]) for p in peers]
        rows += [(p.name, "stopped", *stopped[p.name]) for p in peers]
        print_table(
            f"Redis frozen (SIGSTOP) / stopped: {OUTAGE_CALLS} checks each, one policy",
            rows,
            ("limiter", "Redis", "each check", "waited >= 50 ms", "1st ms", "last ms"),
        )
    finally:
        server.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
