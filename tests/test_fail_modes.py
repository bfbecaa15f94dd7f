"""Fail modes and recovery through the Django stack, against a real redis-server.

Outages here are simulated cheaply (a forced-open breaker, a refused port, a store that raises);
``test_chaos.py`` breaks real redis-server processes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import AsyncClient

from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.exceptions import StoreError, StoreUnavailable
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.stores.memory import fallback_store
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import redis_cache
from tests.support.redis_servers import free_port

POLICIES = {
    "login": {
        "rate": "3/m",
        "key": "ip",
        "methods": ["POST"],
        "fail_mode": "closed",
        "critical": True,
    },
    "api": {"rate": "5/m", "key": "ip", "paths": ["/api/"], "fail_mode": "memory"},
    "public": {"rate": "2/m", "key": "ip", "paths": ["/plain/"], "fail_mode": "open"},
}


@pytest.fixture
def guarded(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": POLICIES,
        "BREAKER": {
            "FAILURE_THRESHOLD": 2,
            "RESET_TIMEOUT": 0.01,
            "MAX_RESET_TIMEOUT": 0.02,
            "JITTER": 0.0,
            "SUCCESS_THRESHOLD": 1,
            "SLOW_CALL_SECONDS": 1.0,
        },
        "FALLBACK": {"WORKERS": 2},
    }
    return redis


@pytest.fixture
def redis_calls(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    original = RedisStore.hit_many

    def counting(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        calls.append(len(hits))
        return original(self, hits, **kwargs)

    monkeypatch.setattr(RedisStore, "hit_many", counting)
    return calls


def test_memory_policy_falls_back_to_the_per_worker_share(client, guarded, redis_calls):
    get_breaker("ratelimit").force_open()
    statuses = [client.get("/api/items/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # ceil(5 / 2 workers) = 3
    response = client.get("/api/items/")
    assert response["RateLimit-Policy"] == '"api";q=3;w=60'
    assert redis_calls == []


def test_closed_policy_answers_503_with_retry_after(client, guarded, redis_calls):
    get_breaker("ratelimit").force_open()
    response = client.post("/login/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert redis_calls == []


def test_open_policy_allows_and_says_so(client, guarded, redis_calls):
    get_breaker("ratelimit").force_open()
    for _ in range(5):
        response = client.get("/plain/")
        assert response.status_code == 200
    assert response.wsgi_request.rate_limit.source == "open"  # type: ignore[attr-defined]
    assert redis_calls == []


def test_refused_connection_opens_the_breaker_and_no_request_fails(client, settings, guarded):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": redis_cache(f"redis://127.0.0.1:{free_port()}/0"),
    }
    statuses = [client.get("/api/items/").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert get_breaker("ratelimit").state is not BreakerState.CLOSED
    assert client.post("/login/").status_code == 503


def test_script_errors_fall_back_without_opening_the_breaker(client, guarded, monkeypatch):
    def broken(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        error = StoreError("script bug")
        error.reason = "script"  # type: ignore[attr-defined]
        raise error

    monkeypatch.setattr(RedisStore, "hit_many", broken)
    for _ in range(5):
        assert client.get("/api/items/").status_code in (200, 429)
    breaker = get_breaker("ratelimit")
    assert breaker.state is BreakerState.CLOSED
    assert breaker.error_counts() == {"script": 5}


def test_a_request_denied_by_a_closed_policy_consumes_no_memory_budget(guarded):
    from django.test import RequestFactory

    from django_ratelimit_guard.conf.settings import guard_settings
    from django_ratelimit_guard.engine import limiter

    get_breaker("ratelimit").force_open()
    policies = guard_settings().policies
    request = RequestFactory().post("/api/items/")
    for _ in range(3):
        result = limiter.decide(request, [policies["login"], policies["api"]])
        assert result.source == "closed"
    result = limiter.decide(request, [policies["api"]])
    assert result.remaining == 2  # the first counted hit of 3


def outage(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def down(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("down", scope=self.scope, reason="connection")

    monkeypatch.setattr(RedisStore, "hit_many", down)


def wait_for_probe() -> None:
    import time

    time.sleep(0.03)  # RESET_TIMEOUT is 0.01-0.02 s in these tests


def test_recovery_merges_memory_counts_so_blocked_clients_stay_blocked(
    client, guarded, monkeypatch
):
    client.get("/api/items/")  # one hit counted in Redis before the outage
    with monkeypatch.context() as patch:
        outage(patch)
        statuses = [client.get("/api/items/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # memory: 3 per worker
    wait_for_probe()
    response = client.get("/api/items/")  # the probe: merges 1 + 3 = 4 of 5, then counts itself
    assert response.wsgi_request.rate_limit.source == "redis"  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert get_breaker("ratelimit").state is BreakerState.CLOSED
    assert client.get("/api/items/").status_code == 429
    assert fallback_store().export_unmerged() == []  # merged once, never twice


def test_a_client_blocked_in_one_outage_stays_blocked_in_the_next(client, guarded, monkeypatch):
    for _ in range(2):
        with monkeypatch.context() as patch:
            outage(patch)
            statuses = [client.get("/api/items/").status_code for _ in range(4)]
        wait_for_probe()
        client.get("/plain/")  # the probe that merges and closes the breaker
        assert get_breaker("ratelimit").state is BreakerState.CLOSED
        last = statuses
    assert last == [429] * 4  # the second outage grants no fresh fallback budget


def test_recovery_without_reconcile_forgets_memory_counts(client, guarded, settings, monkeypatch):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "FALLBACK": {"WORKERS": 2, "RECONCILE": False},
    }
    with monkeypatch.context() as patch:
        outage(patch)
        for _ in range(4):
            client.get("/api/items/")
    wait_for_probe()
    assert [client.get("/api/items/").status_code for _ in range(5)] == [200] * 5


def test_reset_clears_redis_and_memory(client, guarded, monkeypatch):
    from django_ratelimit_guard import reset

    for _ in range(5):
        client.get("/api/items/")
    with monkeypatch.context() as patch:
        outage(patch)
        for _ in range(4):
            client.get("/api/items/")
        reset("api", "127.0.0.1")
        assert client.get("/api/items/").status_code == 200
    wait_for_probe()
    assert client.get("/api/items/").status_code == 200


async def test_async_views_use_the_same_fail_modes(guarded):
    get_breaker("ratelimit").force_open()
    client = AsyncClient()
    statuses = [(await client.get("/api/items/")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await client.post("/login/")).status_code == 503


def test_store_error_subscribers_hear_outages(guarded, monkeypatch, client, subscribe):
    seen: list[tuple[str, str]] = []
    subscribe(bus.store_error, lambda scope, kind: seen.append((scope, kind)))
    outage(monkeypatch)
    client.get("/api/items/")
    assert seen == [("ratelimit", "connection")]
