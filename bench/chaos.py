"""Chaos bench: Redis stopped, killed, frozen and flapped under load, under gunicorn and uvicorn.

    /work/venvs/<name>/bin/python bench/chaos.py [--servers gunicorn,uvicorn]
        [--scenarios stop,kill,freeze,flap] [--rate 150] [--outage 8] [--settle 30]

Starts its own redis-server and the live test site (tests/system/live: ``/api/`` in fail mode
``memory`` at 100/m per client, ``POST /login/`` in fail mode ``closed``, 4 workers, ``FALLBACK
WORKERS = 4``) under gunicorn (4 sync workers), then uvicorn (4 workers), each on a free loopback
port. Load: ``--rate`` requests/s from 5,000 loopback addresses (127.0.x.y, a new connection per
request), a quarter of them logins, plus one steady client on 127.0.0.2 at 5 requests/s on
``/api/``. Per scenario, Redis is healthy for 3 s, then:

* ``stop``: SIGTERM, ``--outage`` seconds down, started again;
* ``kill``: SIGKILL, ``--outage`` seconds down, started again;
* ``freeze``: SIGSTOP for ``--outage`` seconds (the port accepts, nothing answers), SIGCONT;
* ``flap``: 8 cycles of 1 s down (SIGTERM) and 1 s up (from when Redis answers again).

and the load goes on for 6 s after the recovery (``--settle`` seconds between scenarios, so one
scenario's 60 s client window does not reach into the previous outage). Prints, per server and
scenario: how long redis-server took to answer after its launch (its AOF load included), requests,
5xx other than closed-mode 503s, the time spent inside Django (p99 and max, from the live site's
``X-Django-Ms``) and the longest request as the client saw it, each worker's time back on Redis
after the recovery (the end of its first request decided by Redis, sent after Redis answered
again), the last closed-mode 503 after the recovery, and how many requests of the steady client
were admitted in the 60 s centred on the recovery (its limit is 100 a minute). For ``flap``, also
each cycle: how many workers were back on Redis within the up-phase. Redis runs with AOF
persistence (``--no-persist``: without), so a stopped Redis keeps its counts and a killed one
loses at most its last second.

Everything is bounded (each phase by time, the load by time and count) and stops by itself;
traffic goes only to 127.0.0.1; only processes started here are stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _harness import ROOT, RedisServer, print_table, versions

from tests.system.live.load import (
    CLIENT,
    Load,
    Record,
    back_on_redis,
    last_closed_503,
    median,
    pids,
    unexpected_5xx,
)
from tests.system.live.servers import LiveServer, migrate, site_env

WORKERS = 4
HEALTHY_BEFORE = 3.0
AFTER = 6.0
FLAP_CYCLES = 8
CLIENT_WINDOW = 60.0
CLIENT_LIMIT = 100


@dataclass
class Run:
    server: str
    scenario: str
    started: float  # the outage began
    recovered: float  # Redis answered again (the last time, for flap)
    restart: float  # seconds from launching redis-server to its first answer (AOF load included)
    ended: float
    cycles: list[tuple[float, float]]  # flap: (on-phase start, its end)


def kill(redis_server: RedisServer) -> None:
    assert redis_server.process is not None
    redis_server.process.send_signal(signal.SIGKILL)
    redis_server.process.wait(10)
    redis_server.process = None


def scenario(
    name: str, redis_server: RedisServer, outage: float
) -> tuple[float, float, float, list[tuple[float, float]]]:
    """Break Redis as ``name`` says. Returns the outage's start, the instant Redis answered again
    (started and past its AOF load, or thawed), how long that restart took, and for ``flap`` each
    up-phase that was followed by another outage (from Redis answering to its next stop)."""
    cycles: list[tuple[float, float]] = []
    started = time.time()
    if name == "freeze":
        redis_server.freeze()
        time.sleep(outage)
        redis_server.thaw()
        return started, time.time(), 0.0, cycles
    if name == "flap":
        restart = 0.0
        for i in range(FLAP_CYCLES):
            redis_server.stop()
            time.sleep(1)
            launched = time.time()
            redis_server.start()
            ready = time.time()
            restart = max(restart, ready - launched)
            if i < FLAP_CYCLES - 1:
                time.sleep(1)  # 1 s up: answering, whatever the restart took
                cycles.append((ready, time.time()))
        return started, ready, restart, cycles
    if name == "stop":
        redis_server.stop()
    elif name == "kill":
        kill(redis_server)
    else:
        raise ValueError(name)
    time.sleep(outage)
    launched = time.time()
    redis_server.start()
    return started, time.time(), time.time() - launched, cycles


def admitted_around(records: list[Record], recovered: float) -> int:
    """The steady client's admitted requests in the 60 s centred on the recovery: the outage and
    what came just before and after it (the scenarios are far enough apart not to overlap)."""
    lo, hi = recovered - CLIENT_WINDOW / 2, recovered + CLIENT_WINDOW / 2
    return sum(
        1 for r in records if r.client == CLIENT and r.status == 200 and lo <= r.started < hi
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(runs: list[Run], records: list[Record]) -> None:
    rows = []
    flap_rows = []
    for run in runs:
        window = [r for r in records if run.started - HEALTHY_BEFORE <= r.started < run.ended]
        workers = pids(window)
        back = back_on_redis(window, run.recovered, workers)
        times = [t for t in back.values() if t is not None]
        missing = sum(1 for t in back.values() if t is None)
        last = last_closed_503(window, run.recovered)
        rows.append(
            (
                run.server,
                run.scenario,
                f"{run.restart:.2f}",
                str(len(window)),
                str(len(unexpected_5xx(window))),
                str(sum(1 for r in window if r.closed)),
                f"{percentile([r.django_ms for r in window], 0.99):.0f}",
                f"{max((r.django_ms for r in window), default=0):.0f}",
                f"{max((r.seconds for r in window), default=0) * 1000:.0f}",
                " ".join(f"{t:.2f}" for t in sorted(times))
                + (f" +{missing} none" if missing else ""),
                f"{max(times):.2f}" if times else "-",
                "none" if last is None else f"{last:.2f}",
                str(admitted_around(records, run.recovered)),
            )
        )
        for n, (on, off) in enumerate(run.cycles, 1):
            in_cycle = [r for r in window if on <= r.started < off]
            cycle_back = back_on_redis(in_cycle, on, pids(window))
            got = [t for t in cycle_back.values() if t is not None]
            flap_rows.append(
                (
                    run.server,
                    str(n),
                    f"{len(got)}/{len(cycle_back)}",
                    f"{median(got):.2f}" if got else "-",
                    f"{max(got):.2f}" if got else "-",
                )
            )
    print_table(
        "Outages under load: how long redis-server took to answer after its launch (AOF load); "
        "5xx other than closed-mode 503s; time inside Django (p99, max) and the longest request "
        "as the client saw it (ms); each worker's time back on Redis after Redis answered again "
        "(s); the last closed-mode 503 after it (s); the steady client's admitted "
        f"requests in the {CLIENT_WINDOW:g} s centred on the recovery (limit {CLIENT_LIMIT})",
        rows,
        (
            "server",
            "scenario",
            "restart s",
            "requests",
            "5xx",
            "closed 503",
            "Django p99",
            "Django max",
            "client max",
            "workers back (s)",
            "max back",
            "last 503",
            "client in 60 s",
        ),
    )
    if flap_rows:
        print_table(
            "Flap: workers back on Redis within each 1 s up-phase (s after Redis answered)",
            flap_rows,
            ("server", "cycle", "back", "median s", "max s"),
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="gunicorn,uvicorn")
    parser.add_argument("--scenarios", default="stop,kill,freeze,flap")
    parser.add_argument("--rate", type=float, default=150.0, help="requests/s of the load")
    parser.add_argument("--outage", type=float, default=8.0, help="seconds down (not flap)")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds between scenarios")
    parser.add_argument("--no-persist", action="store_true", help="Redis without AOF")
    parser.add_argument(
        "--smoke", action="store_true", help="gunicorn, one 1 s stop, short pauses (CI)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.servers, args.scenarios, args.outage, args.settle = "gunicorn", "stop", 1.0, 1.0
    servers = [s for s in args.servers.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]

    workdir = Path(tempfile.mkdtemp(prefix="rlg-chaos-"))
    # Durable as Redis recommends (AOF, fsync every second): a stopped Redis keeps its counts, a
    # killed one loses at most the last second. --no-persist: counts start over at every restart.
    persist = () if args.no_persist else ("--appendonly", "yes", "--appendfsync", "everysec")
    redis_server = RedisServer(extra_args=persist).start()
    runs: list[Run] = []
    records: list[Record] = []
    try:
        env = site_env(redis_server.url, workdir / "db.sqlite3")
        migrate(env)
        load_avg = os.getloadavg()
        print(
            f"{versions()}, {os.cpu_count()} CPUs, load {load_avg[0]:.2f} {load_avg[1]:.2f} "
            f"{load_avg[2]:.2f}; {WORKERS} workers per server, load {args.rate:g} req/s from "
            f"5,000 loopback addresses + 1 client at 5 req/s; breaker and health checks at "
            "their defaults (RESET_TIMEOUT 5 s, HEALTH_CHECK_SECONDS 0.5 s), SOCKET_TIMEOUT 0.1 s, "
            f"Redis {'without persistence' if args.no_persist else 'with AOF (everysec)'}"
        )
        for kind in servers:
            server = LiveServer(kind, env, workdir / f"{kind}.log", WORKERS).wait_ready()
            budget = len(scenarios) * (args.settle + HEALTHY_BEFORE + 2 * FLAP_CYCLES + AFTER + 30)
            load = Load(server.port, rate=args.rate, client_rate=5.0, max_seconds=budget).start()
            try:
                time.sleep(args.settle)
                for name in scenarios:
                    time.sleep(HEALTHY_BEFORE)
                    started, recovered, restart, cycles = scenario(name, redis_server, args.outage)
                    time.sleep(AFTER)
                    runs.append(Run(kind, name, started, recovered, restart, time.time(), cycles))
                    time.sleep(args.settle)
            finally:
                load.stop()
                server.stop()
            records += load.records
            if load.errors:
                print(f"{kind}: {len(load.errors)} client errors, e.g. {load.errors[:3]}")
        report(runs, records)
    finally:
        if redis_server.process is None:
            shutil.rmtree(redis_server.dir, ignore_errors=True)
        else:
            redis_server.close()
        if os.environ.get("CHAOS_KEEP"):
            print("kept", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
