"""The fleet's worker processes for the system tests (loaded by ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fleet.harness import Worker, fleet_env, manage
from tests.support.redis_servers import RedisServer

#: The fleet poll interval of the worker processes (seconds).
POLL = 0.5
#: What "within the poll interval" allows on top of it: the gap between two test requests, one
#: SQLite read, and scheduling on a 2-core machine shared with other test runs.
SLACK = 0.5


@pytest.fixture(scope="module")
def worker_env(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The environment of a module's worker processes: the fleet settings, one migrated SQLite
    file they share, the session's redis-server, a fleet poll every ``POLL`` s."""
    db = tmp_path_factory.mktemp("fleet") / "fleet.sqlite3"
    env = fleet_env(db, redis_server.url, POLL)
    migrated = manage(env, "migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    return env


@pytest.fixture
def fleet_db(worker_env: dict[str, str]) -> Iterator[Path]:
    yield Path(worker_env["RLG_FLEET_DB"])
    # Leave no standing force-open for the next test.
    assert manage(worker_env, "ratelimit_guard", "reset-breaker", "*").returncode == 0


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(env: dict[str, str], mode: str = "sync") -> Worker:
        worker = Worker(env, mode, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()
