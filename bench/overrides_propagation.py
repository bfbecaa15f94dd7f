"""Runtime override propagation (issue #15): how long a block rule, and its removal, take to reach
every one of 4 worker processes, with the default poll interval and with the old one.

Run:  python bench/overrides_propagation.py [rounds] [--smoke]
Starts its own redis-server (tests/support/redis_servers.py) and four real worker processes (two
sync, two async; tests/support/fleet/worker.py) sharing a temporary SQLite file; this process adds
and removes the rules through ``ops/overrides.py``. Delay = wall time of the *last* worker's first
decision in the new state minus the rule's change time; each worker gets one request every ~20 ms,
and a random pause before each change varies its phase against the workers' polls.
"""

from __future__ import annotations

import argparse
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

POLLS = (1.0, 2.0)  # the default since issue #15, and the default before it


def main(rounds: int, polls: tuple[float, ...] = POLLS) -> None:
    server = RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="rlg-overrides-bench-"))
    db = tmp / "fleet.sqlite3"
    try:
        env = fleet_env(db, server.url, POLLS[0])
        assert manage(env, "migrate", "--noinput", "-v", "0").returncode == 0
        os.environ.update({k: env[k] for k in ("RLG_FLEET_DB", "RLG_FLEET_REDIS")})
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.fleet.settings"
        import django

        django.setup()
        import logging

        logging.getLogger("django_ratelimit_guard").setLevel(logging.WARNING)
        from django_ratelimit_guard.ops import overrides
        from django_ratelimit_guard.ops.models import RateLimitOverride

        rows: list[tuple[float, str, list[float]]] = []
        for poll in polls:
            env = fleet_env(db, server.url, poll)
            workers = [Worker(env, m, tmp / f"w{i}.log") for i, m in enumerate("ssaa")]
            added: list[float] = []
            removed: list[float] = []
            try:
                for w in workers:
                    w.request()
                for _ in range(rounds):
                    time.sleep(random.uniform(0, poll))
                    row, _ = overrides.add("fleet", "192.0.2.10", "block", by="bench")
                    first = wait_for_source(workers, "override", timeout=poll + 5)
                    assert len(first) == len(workers), first
                    added.append(max(first.values()) - row.created_at.timestamp())
                    time.sleep(random.uniform(0, poll))
                    started = time.time()
                    RateLimitOverride.objects.filter(pk=row.pk).delete()
                    first = wait_for_source(workers, "redis", timeout=poll + 5)
                    assert len(first) == len(workers), first
                    removed.append(max(first.values()) - started)
            finally:
                for w in workers:
                    w.close()
            rows += [(poll, "add block", added), (poll, "remove", removed)]
        print(f"Override propagation to 4 worker processes (2 sync, 2 async), {rounds} rounds")
        print(f"{'POLL_SECONDS':>12}  {'change':<10}  {'median (s)':>10}  {'max (s)':>8}")
        for poll, change, delays in rows:
            print(
                f"{poll:>12g}  {change:<10}  "
                f"{statistics.median(delays):>10.3f}  {max(delays):>8.3f}"
            )
    finally:
        server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="1 round, the default poll (CI)")
    args = parser.parse_args()
    if args.smoke:
        main(1, POLLS[:1])
    else:
        main(args.rounds)
