"""The nonce store's outages, against real redis-server processes this module starts and stops."""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from django_ratelimit_guard import signing_nonces
from django_ratelimit_guard.signing_metrics import failure_count
from django_ratelimit_guard.signing_nonces import MemoryNonceCache, NonceCacheFull
from tests.conftest import redis_cache
from tests.redis_servers import RedisServer
from tests.security.conftest import send, signed_headers

pytestmark = pytest.mark.chaos


class _State(enum.Enum):
    """A breaker state as an enum, as a breaker module may well define it."""

    OPEN = "open"
    CLOSED = "closed"


@pytest.fixture
def own_redis(signed: Any) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which it may stop or freeze."""
    server = RedisServer().start()
    signed.CACHES = {**signed.CACHES, "ratelimit": redis_cache(server.url)}
    yield server
    server.close()


def _fail_mode(settings: Any, mode: str) -> None:
    config = dict(settings.RATELIMIT_GUARD)
    config["SIGNING"] = {**config["SIGNING"], "FAIL_MODE": mode}
    settings.RATELIMIT_GUARD = config


def test_nonce_store_down_with_fail_mode_closed_is_503(
    own_redis: RedisServer, settings: Any
) -> None:
    _fail_mode(settings, "closed")
    own_redis.stop()
    before = failure_count("nonce_store")
    response = send(Client(), **signed_headers(nonce="closed-mode-nonce-1"))
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "error" in response.json()
    assert failure_count("nonce_store") == before + 1


def test_frozen_nonce_store_with_fail_mode_closed_is_503_within_the_socket_timeout(
    own_redis: RedisServer, settings: Any
) -> None:
    _fail_mode(settings, "closed")
    client = Client()
    assert send(client, **signed_headers(nonce="before-the-freeze-1")).status_code == 200
    own_redis.freeze()
    started = time.monotonic()
    response = send(client, **signed_headers(nonce="during-the-freeze-1"))
    assert response.status_code == 503
    assert time.monotonic() - started < 2.0  # SOCKET_TIMEOUT is 0.2 s


def test_nonce_store_down_with_fail_mode_memory_still_refuses_replays_in_this_process(
    own_redis: RedisServer, settings: Any
) -> None:
    _fail_mode(settings, "memory")
    own_redis.stop()
    headers = signed_headers(nonce="memory-mode-nonce-1")
    assert send(Client(), **headers).status_code == 200
    assert send(Client(), **headers).status_code == 401


def test_a_nonce_claimed_in_memory_stays_claimed_when_redis_returns(
    own_redis: RedisServer, settings: Any
) -> None:
    _fail_mode(settings, "memory")
    own_redis.stop()
    headers = signed_headers(nonce="outage-then-back-01")
    assert send(Client(), **headers).status_code == 200
    own_redis.start()
    assert send(Client(), **headers).status_code == 401  # Redis never saw it; this process did
    assert send(Client(), **signed_headers(nonce="after-recovery-0001")).status_code == 200
    # Both nonces are now in Redis: the replayed one too, so other processes refuse it from now on.
    assert own_redis.client().dbsize() == 2


def test_a_full_memory_nonce_cache_refuses_instead_of_forgetting_live_nonces(
    own_redis: RedisServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_mode(settings, "memory")
    monkeypatch.setattr(signing_nonces, "memory_cache", MemoryNonceCache(max_entries=2))
    own_redis.stop()
    statuses = [
        send(Client(), **signed_headers(nonce=f"fill-the-cache-{i:04d}")).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 503]


def test_memory_nonce_cache_expires_entries_after_their_ttl() -> None:
    now = [100.0]
    cache = MemoryNonceCache(max_entries=2, clock=lambda: now[0])
    assert cache.claim("a", ttl=10)
    assert not cache.claim("a", ttl=10)
    assert cache.claim("b", ttl=10)
    with pytest.raises(NonceCacheFull):
        cache.claim("c", ttl=10)
    now[0] = 109.9
    assert cache.seen("a")
    now[0] = 110.0
    assert not cache.seen("a")
    assert cache.claim("c", ttl=10)  # expired entries make room
    assert cache.claim("a", ttl=10)
    assert len(cache) == 2


def test_an_open_breaker_skips_redis_for_nonces(
    signed: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_mode(settings, "memory")
    monkeypatch.setattr(signing_nonces, "_redis_usable", lambda config: False)

    def must_not_run(key: str, ttl: int) -> bool:
        raise AssertionError("Redis was called while its breaker is open")

    monkeypatch.setattr(signing_nonces, "_redis_claim", must_not_run)
    assert send(Client(), **signed_headers(nonce="breaker-open-nonce1")).status_code == 200


@pytest.mark.parametrize(
    ("state", "usable"),
    [
        ("open", False),
        ("half_open", True),
        ("closed", True),
        (_State("open"), False),
        (_State("closed"), True),
    ],
)
def test_the_breaker_of_the_cache_alias_decides_whether_redis_is_tried(
    signed: Any, monkeypatch: pytest.MonkeyPatch, state: object, usable: bool
) -> None:
    from django_ratelimit_guard.conf import guard_settings

    scopes: list[str] = []

    def get_breaker(scope: str) -> object:
        scopes.append(scope)
        return SimpleNamespace(state=state)

    monkeypatch.setattr(signing_nonces, "_breaker_lookup", lambda: get_breaker)
    assert signing_nonces._redis_usable(guard_settings()) is usable
    assert scopes == ["ratelimit"]
