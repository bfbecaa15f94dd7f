"""Replay protection: each nonce claimed once, for twice the allowed skew, per key id; and the nonce
store's outages (``chaos``), against real redis-server processes these tests start and stop."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import AsyncClient, Client

from django_ratelimit_guard.ops.metrics import signature_failure_count as failure_count
from django_ratelimit_guard.signing import nonces
from django_ratelimit_guard.signing.nonces import MemoryNonceCache, NonceCacheFull
from tests.support.redis_servers import RedisServer
from tests.support.signing import (
    KEY_ID,
    OTHER_KEY_ID,
    OTHER_SECRET,
    REFUSAL,
    SKEW,
    Clock,
    asgi_headers,
    send,
    signed_headers,
)

# The outage tests (``chaos``) run with the signing settings (``signed``) and a redis-server of
# their own (``own_redis``), which they stop or freeze.


def _fail_mode(settings: Any, mode: str) -> None:
    config = dict(settings.RATELIMIT_GUARD)
    config["SIGNING"] = {**config["SIGNING"], "FAIL_MODE": mode}
    settings.RATELIMIT_GUARD = config


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
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


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
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


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
def test_nonce_store_down_with_fail_mode_memory_still_refuses_replays_in_this_process(
    own_redis: RedisServer, settings: Any
) -> None:
    _fail_mode(settings, "memory")
    own_redis.stop()
    headers = signed_headers(nonce="memory-mode-nonce-1")
    assert send(Client(), **headers).status_code == 200
    assert send(Client(), **headers).status_code == 401


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
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


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
def test_a_full_memory_nonce_cache_refuses_instead_of_forgetting_live_nonces(
    own_redis: RedisServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_mode(settings, "memory")
    monkeypatch.setattr(nonces, "memory_cache", MemoryNonceCache(max_entries=2))
    own_redis.stop()
    statuses = [
        send(Client(), **signed_headers(nonce=f"fill-the-cache-{i:04d}")).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 503]


@pytest.mark.chaos
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


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
@pytest.mark.parametrize(("mode", "status"), [("memory", 200), ("closed", 503)])
def test_an_open_breaker_skips_redis_for_nonces(
    own_redis: RedisServer, settings: Any, monkeypatch: pytest.MonkeyPatch, mode: str, status: int
) -> None:
    from django_ratelimit_guard.engine.breakers import get_breaker

    _fail_mode(settings, mode)
    get_breaker("ratelimit").force_open("test")

    def must_not_run(store: Any, key: str, ttl: int) -> bool:
        raise AssertionError("Redis was called while its breaker is open")

    monkeypatch.setattr(nonces, "redis_claim", must_not_run)
    assert send(Client(), **signed_headers(nonce=f"breaker-open-{mode}-1")).status_code == status


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
def test_nonce_store_outages_open_the_breaker_of_the_cache_alias(
    own_redis: RedisServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_ratelimit_guard.engine.breakers import get_breaker

    _fail_mode(settings, "memory")
    own_redis.stop()
    threshold = 5  # BREAKER FAILURE_THRESHOLD default
    for i in range(threshold):
        assert send(Client(), **signed_headers(nonce=f"opening-breaker-{i:03d}")).status_code == 200
    assert get_breaker("ratelimit").state.value == "open"
    calls: list[str] = []
    monkeypatch.setattr(nonces, "redis_claim", lambda store, key, ttl: calls.append(key) or True)
    assert send(Client(), **signed_headers(nonce="after-breaker-open-1")).status_code == 200
    assert calls == []  # straight to the memory cache, no connection attempt


@pytest.mark.chaos
@pytest.mark.usefixtures("signed")
def test_a_nonce_claim_closing_the_breaker_reconciles_memory_counts_first(
    own_redis: RedisServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_ratelimit_guard.engine.breakers import get_breaker

    breaker = get_breaker("ratelimit")
    reconciled: list[object] = []
    acquire = breaker.acquire

    def probe_acquire() -> Any:  # every call is a half-open probe, as after an outage
        call = acquire()
        assert call is not None
        call.probe = True
        return call

    monkeypatch.setattr(breaker, "acquire", probe_acquire)
    monkeypatch.setattr(
        "django_ratelimit_guard.engine.reconcile.reconcile",  # the merge run before a probe
        lambda client, store, scope: reconciled.append(client),
    )
    assert send(Client(), **signed_headers(nonce="closing-the-breaker1")).status_code == 200
    assert len(reconciled) == 1


def test_a_replay_inside_the_window_is_refused(signed_redis: Any, clock: Clock) -> None:
    headers = signed_headers(nonce="replayed-nonce-0001")
    assert send(Client(), **headers).status_code == 200
    clock.now += SKEW - 1
    before = failure_count("replay")
    response = send(Client(), **headers)
    assert response.status_code == 401
    assert response.json() == REFUSAL
    assert failure_count("replay") == before + 1


def test_the_nonce_lives_twice_the_skew_under_the_key_prefix_and_a_hash_tag(
    signed_redis: Any,
) -> None:
    assert send(Client(), **signed_headers(nonce="ttl-checked-nonce-01")).status_code == 200
    keys = signed_redis.client().keys("*")
    assert len(keys) == 1
    key = keys[0].decode()
    assert key.startswith("rlg:{")
    assert key.endswith("}:nonce")
    assert "ttl-checked" not in key  # hashed, like every key value
    assert KEY_ID not in key
    assert 2 * SKEW - 2 <= signed_redis.client().ttl(key) <= 2 * SKEW


def test_the_same_nonce_under_another_key_id_is_not_a_replay(signed_redis: Any) -> None:
    assert send(Client(), **signed_headers(nonce="shared-nonce-00001")).status_code == 200
    other = signed_headers(nonce="shared-nonce-00001", key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    assert send(Client(), **other).status_code == 200


async def test_async_replay_is_refused(signed_redis: Any) -> None:
    client = AsyncClient()
    headers = asgi_headers(
        signed_headers(path="/api/async/?q=caf%C3%A9", nonce="async-replay-00001")
    )
    assert (await client.get("/api/async/?q=caf%C3%A9", headers=headers)).status_code == 200
    assert (await client.get("/api/async/?q=caf%C3%A9", headers=headers)).status_code == 401
