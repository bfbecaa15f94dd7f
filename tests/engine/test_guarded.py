"""The guarded call: errors classified once, reported to the scope's breaker and the bus."""

from __future__ import annotations

from typing import Any

from django_ratelimit_guard import acheck
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.exceptions import StoreError
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import request_from, unreachable_cache
from tests.support.guards import ASYNC_CLIENT, FAIL_MODES, NATIVE_ASYNC, outage


@FAIL_MODES
def test_refused_connection_opens_the_breaker_and_no_request_fails(client, settings, guarded):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": unreachable_cache(),
    }
    statuses = [client.get("/api/items/").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 429, 429, 429]
    assert get_breaker("ratelimit").state is not BreakerState.CLOSED
    assert client.post("/login/").status_code == 503


@FAIL_MODES
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


@FAIL_MODES
def test_store_error_subscribers_hear_outages(guarded, monkeypatch, client, subscribe):
    seen: list[tuple[str, str]] = []
    subscribe(bus.store_error, lambda scope, kind: seen.append((scope, kind)))
    outage(monkeypatch)
    client.get("/api/items/")
    assert seen == [("ratelimit", "connection")]


@NATIVE_ASYNC
async def test_a_stopped_server_is_an_outage_the_breaker_counts(guarded, no_thread_hop):
    await acheck(request_from(ASYNC_CLIENT), "api")
    guarded.stop()
    try:
        result = await acheck(request_from(ASYNC_CLIENT), "api")
        assert result.source == "memory"
        assert get_breaker("ratelimit").snapshot().consecutive_failures == 1
        assert (await acheck(request_from(ASYNC_CLIENT), "api")).source == "memory"
        assert get_breaker("ratelimit").state.value == "open"
    finally:
        guarded.start()
