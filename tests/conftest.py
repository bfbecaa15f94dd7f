from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_ratelimit_guard.conf.settings import reset_all
from django_ratelimit_guard.core.bus import Topic
from django_ratelimit_guard.edge.startup import validate_views_once
from tests.redis_servers import RedisServer

# No fleet poller thread in the test process, even where a test replaces RATELIMIT_GUARD whole
# (the environment variable wins over the dict): a thread reading the in-memory test database
# beside the tests would race them. tests/fleet/ runs real worker processes with a poller.
os.environ.setdefault("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "0")


@pytest.fixture(scope="session", autouse=True)
def _views_validated_under_the_suites_settings(django_test_environment: None) -> None:
    """RateLimitMiddleware validates every @rate_limit once per process, when first built
    (edge/startup.py). Do it here, under tests.settings, the project the URLconf belongs to: tests
    that swap POLICIES later model other projects without re-importing the URLconf."""
    validate_views_once()


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
    yield
    reset_all()
