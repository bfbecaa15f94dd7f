"""Fleet command propagation: how long a force-open / reset takes to reach every worker, and what
the request path pays for the channel.

Run:  PYTHONPATH=. /work/venv311/bin/python bench/fleet_propagation.py [rounds] [--smoke]
Starts its own redis-server (tests/support/redis_servers.py) and three real worker processes (two
sync, one async; tests/support/fleet/worker.py) sharing a temporary SQLite file; this process issues
the commands. Delay = wall time of a worker's first decision in the new state minus the command's
created_at; each worker gets one request every ~20 ms. Figures are medians / maxima of this run.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.fleet.harness import Worker, fleet_env, manage, wait_for_source
from tests.support.redis_servers import RedisServer

POLLS = (0.5, 2.0)


def main(rounds: int) -> None:
    server = RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="rlg-fleet-bench-"))
    db = tmp / "fleet.sqlite3"
    try:
        env = fleet_env(db, server.url, POLLS[0])
        assert manage(env, "migrate", "--noinput", "-v", "0").returncode == 0
        os.environ.update({k: env[k] for k in ("RLG_FLEET_DB", "RLG_FLEET_REDIS")})
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.fleet.settings"
        import django

        django.setup()
        import logging

        logging.getLogger("django_ratelimit_guard").setLevel(logging.WARNING)  # quiet table
        from django_ratelimit_guard.ops import fleet

        rows = []
        for poll in POLLS:
            env = fleet_env(db, server.url, poll)
            workers = [
                Worker(env, m, tmp / f"w{i}.log") for i, m in enumerate(("sync", "sync", "async"))
            ]
            try:
                for w in workers:
                    w.request()
                for action in ("force_open", "reset"):
                    rows.append((poll, action, []))
                for _ in range(rounds):
                    time.sleep(random.uniform(0, poll))  # vary the phase against the poll
                    for action, source in (("force_open", "memory"), ("reset", "redis")):
                        command = fleet.issue(action, "ratelimit", "bench", "bench")
                        first = wait_for_source(workers, source, timeout=poll + 5)
                        assert len(first) == len(workers), (action, first)
                        delays = [t - command.created_at.timestamp() for t in first.values()]
                        next(r for r in rows if r[0] == poll and r[1] == action)[2].append(
                            max(delays)
                        )
            finally:
                for w in workers:
                    w.close()
        print(f"Fleet propagation to 3 worker processes (2 sync, 1 async), {rounds} rounds each")
        print(f"{'POLL_SECONDS':>12}  {'action':<10}  {'median (s)':>10}  {'max (s)':>8}")
        for poll, action, delays in rows:
            print(
                f"{poll:>12g}  {action:<10}  "
                f"{statistics.median(delays):>10.3f}  {max(delays):>8.3f}"
            )

        from django_ratelimit_guard.ops import fleet_poll

        fleet_poll.poll()  # the first call may start the thread; time the steady state
        n = 200_000
        start = time.perf_counter()
        for _ in range(n):
            fleet_poll.poll()
        poll_ns = (time.perf_counter() - start) / n * 1e9
        client = server.client()
        pings = []
        for _ in range(200):
            t0 = time.perf_counter()
            client.ping()
            pings.append((time.perf_counter() - t0) * 1e9)
        ping_ns = statistics.median(pings)
        print()
        print(f"{'request-path cost':<28}  {'ns':>9}  {'ratio to PING':>13}")
        print(f"{'fleet_poll.poll()':<28}  {poll_ns:>9.0f}  {poll_ns / ping_ns:>13.4f}")
        print(f"{'raw Redis PING round trip':<28}  {ping_ns:>9.0f}  {1:>13.4f}")
    finally:
        server.close()


if __name__ == "__main__":
    if "--smoke" in sys.argv:  # CI: does it still run? One round.
        main(1)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
