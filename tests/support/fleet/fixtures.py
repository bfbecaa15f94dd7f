"""The fleet's worker processes for the system tests (loaded by ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from tests.support.fleet.harness import fleet_env, manage
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
