from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_ratelimit_guard.conf.settings import reset_all
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.bus import Topic
from tests.redis_servers import RedisServer

# No fleet poller thread in the test process, even where a test replaces RATELIMIT_GUARD whole
# (the environment variable wins over the dict): a thread reading the in-memory test database
# beside the tests would race them. tests/fleet/ runs real worker processes with a poller.
os.environ.setdefault("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "0")
# Nor a health-check thread (engine/recovery.py) making open breakers' probes due behind the
# backs of the tests that time them; tests/engine/test_recovery_*.py turn it on where they test it.
os.environ.setdefault("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "0")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server this test session started (and alone may stop or flush)."""
    server = RedisServer().start()
    yield server
    server.close()


def redis_cache(url: str) -> dict[str, object]:
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }


@pytest.fixture
def redis(settings, redis_server: RedisServer):  # type: ignore[no-untyped-def]
    """Point the rate-limit cache at the session's redis-server, emptied for this test."""
    if redis_server.process is None:
        redis_server.start()
    redis_server.flush()
    settings.CACHES = {**settings.CACHES, "ratelimit": redis_cache(redis_server.url)}
    yield redis_server
    reset_all()


@pytest.fixture
def subscribe() -> Iterator[Callable[[Topic[Any], Callable[..., Any]], None]]:
    """``subscribe(bus.topic, fn)``: subscribe ``fn`` for this test only."""
    added: list[tuple[Topic[Any], Callable[..., Any]]] = []

    def add(topic: Topic[Any], fn: Callable[..., Any]) -> None:
        topic.subscribe(fn)
        added.append((topic, fn))

    yield add
    for topic, fn in added:
        topic.unsubscribe(fn)


@pytest.fixture(autouse=True)
def _fresh_guard_state() -> Iterator[None]:
    reset_all()
    logs.aggregator.reset()  # every test sees the first line of each kind it causes
    yield
    reset_all()
