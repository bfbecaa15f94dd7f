"""One client's budget across a Redis freeze, under gunicorn with several sync workers.

    python bench/continuity.py [--workers 4] [--freeze 12] [--rate 20] [--runs 3] [--smoke]

Starts its own redis-server and a gunicorn (``tests.support.fleet.wsgi``, ``FALLBACK['WORKERS']``
equal to the number of workers, policy ``continuity`` at 100/m per client address, fail mode
memory). In one window of the policy (the run waits for a minute to begin if need be): the client
uses 60 of its 100, then redis-server is frozen (SIGSTOP) for ``--freeze`` seconds while the client
goes on at ``--rate`` requests/s, then thawed; the client goes on until 50 s after it began. Prints,
per run, what was admitted before, during and after the freeze, the total against the limit (the
target: <= 1.25x, issue #16) and the 5xx count. Everything it started is stopped at the end."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from _harness import RedisServer, print_table, versions

from tests.support.fleet.continuity import Run, drive, gunicorn, worker_pids

LIMIT = 100


def one_run(workers: int, freeze: float, rate: float, window: float, until: float) -> Run:
    server = RedisServer().start()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            gunicorn(server, Path(tmp), workers, f"{LIMIT}/{int(window)}s", workers) as base,
        ):
            run = Run(LIMIT, workers)
            return drive(
                base, server, run, window=window, used=60, freeze=freeze, until=until, rate=rate
            )
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--freeze", type=float, default=12.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="one short run (CI): 2 s freeze")
    args = parser.parse_args()
    window, until = 60.0, 50.0
    if args.smoke:
        args.runs, args.freeze, args.workers = 1, 2.0, 2
        window, until = 20.0, 8.0
    rows = []
    ratios = []
    for i in range(args.runs):
        run = one_run(args.workers, args.freeze, args.rate, window, until)
        start, end = run.freeze
        ratios.append(run.total / LIMIT)
        rows.append(
            (
                str(i + 1),
                str(run.admitted(end=start)),
                str(run.admitted(start, end)),
                str(run.admitted(start=end)),
                str(run.total),
                f"{run.total / LIMIT:.2f}",
                f"{len(worker_pids(run))}/{args.workers}",
                str(run.fivexx()),
            )
        )
    load = os.getloadavg()
    print(
        f"{versions()}, {os.cpu_count()} CPUs, load {load[0]:.2f}; gunicorn {args.workers} sync "
        f"workers, FALLBACK['WORKERS'] = {args.workers}; limit {LIMIT}/{int(window)}s per client; "
        f"freeze {args.freeze:g} s; client at {args.rate:g} req/s"
    )
    print_table(
        "One client through a Redis freeze, within one window (target: total <= 1.25x limit)",
        rows,
        ("run", "before", "frozen", "after", "total", "x limit", "workers seen", "5xx"),
    )
    print(f"\nmedian x limit: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
