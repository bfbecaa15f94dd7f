"""The guarded call (engine/guarded.py): breaker, merge before a probe, timing, one classification.

Against a real redis-server where Redis answers; failures are raised by the callables themselves,
so each kind is exact.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.exceptions as rexc

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.exceptions import StoreError, StoreUnavailable
from django_ratelimit_guard.engine import guarded
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker

SCOPE = "ratelimit"


@pytest.fixture
def breaker_settings(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": SCOPE,
        "BREAKER": {"FAILURE_THRESHOLD": 2, "RESET_TIMEOUT": 5, "JITTER": 0.0},
    }
    return redis


@pytest.fixture
def heard(subscribe) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[no-untyped-def]
    seen: dict[str, list[tuple[Any, ...]]] = {"latency": [], "errors": []}
    subscribe(bus.store_latency, lambda store, seconds: seen["latency"].append((store, seconds)))
    subscribe(bus.store_error, lambda scope, kind: seen["errors"].append((scope, kind)))
    return seen


def test_a_healthy_call_returns_its_value_and_publishes_its_latency(breaker_settings, heard):
    assert guarded.call(SCOPE, breaker_settings.client().ping) is True
    ((store, seconds),) = heard["latency"]
    assert store == "redis"
    assert 0 <= seconds < 1
    assert heard["errors"] == []


def test_an_open_breaker_refuses_without_calling(breaker_settings, heard):
    get_breaker(SCOPE).force_open("test")
    called: list[int] = []
    assert guarded.call(SCOPE, lambda: called.append(1)) is guarded.UNAVAILABLE
    assert called == []
    assert heard["latency"] == []


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (rexc.ConnectionError("Connection refused"), "connection"),
        (rexc.TimeoutError("Timeout reading from socket"), "timeout"),
        (rexc.BusyLoadingError("LOADING"), "loading"),
        (rexc.ReadOnlyError("READONLY"), "readonly"),
        (rexc.ResponseError("OOM command not allowed"), "oom"),
    ],
)
def test_outages_count_against_the_breaker(breaker_settings, heard, raised, kind):
    def failing() -> None:
        raise raised

    errors: list[StoreError] = []
    for _ in range(2):  # FAILURE_THRESHOLD
        assert guarded.call(SCOPE, failing, on_error=errors.append) is guarded.UNAVAILABLE
    assert get_breaker(SCOPE).state is BreakerState.OPEN
    assert all(isinstance(e, StoreUnavailable) and e.reason == kind for e in errors)
    assert heard["errors"] == [(SCOPE, kind), (SCOPE, kind)]
    assert len(heard["latency"]) == 2  # a failed call is timed too


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (rexc.ConnectionError("No connection available."), "pool"),
        (rexc.ResponseError("ERR Error running script"), "script"),
    ],
)
def test_local_errors_are_counted_but_never_open_the_breaker(
    breaker_settings, heard, raised, kind, caplog
):
    def failing() -> None:
        raise raised

    for _ in range(5):
        assert guarded.call(SCOPE, failing) is guarded.UNAVAILABLE
    breaker = get_breaker(SCOPE)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.error_counts() == {kind: 5}
    assert heard["errors"] == [(SCOPE, kind)] * 5
    logged = [r for r in caplog.records if r.getMessage().startswith("Rate-limit store")]
    assert len(logged) == 1  # logged once per interval, not once per call


def test_a_probe_merges_first_and_a_failed_merge_fails_the_probe(breaker_settings, monkeypatch):
    breaker = get_breaker(SCOPE)
    acquire = breaker.acquire

    def probe() -> Any:  # every call a half-open probe, as right after an outage
        call = acquire()
        assert call is not None
        call.probe = True
        return call

    monkeypatch.setattr(breaker, "acquire", probe)
    order: list[str] = []
    assert guarded.call(SCOPE, lambda: order.append("call"), lambda: order.append("merge")) is None
    assert order == ["merge", "call"]

    def broken_merge() -> None:
        raise rexc.ConnectionError("gone")

    assert guarded.call(SCOPE, lambda: order.append("never"), broken_merge) is guarded.UNAVAILABLE
    assert "never" not in order


def test_no_merge_when_reconciliation_is_off(settings, breaker_settings, monkeypatch):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "FALLBACK": {"RECONCILE": False}}
    breaker = get_breaker(SCOPE)
    acquire = breaker.acquire

    def probe() -> Any:
        call = acquire()
        assert call is not None
        call.probe = True
        return call

    monkeypatch.setattr(breaker, "acquire", probe)
    merged: list[int] = []
    guarded.call(SCOPE, lambda: None, lambda: merged.append(1))
    assert merged == []


def test_a_closed_call_merges_nothing(breaker_settings):
    merged: list[int] = []
    guarded.call(SCOPE, lambda: None, lambda: merged.append(1))
    assert merged == []


def test_the_async_twin_follows_the_same_protocol(breaker_settings, heard):
    async def ok() -> str:
        return "ok"

    async def down() -> None:
        raise rexc.ConnectionError("Connection refused")

    assert asyncio.run(guarded.acall(SCOPE, ok)) == "ok"
    assert asyncio.run(guarded.acall(SCOPE, down)) is guarded.UNAVAILABLE
    assert heard["errors"] == [(SCOPE, "connection")]
    assert [store for store, _ in heard["latency"]] == ["redis", "redis"]


def test_latency_is_published_for_the_async_store_and_the_memory_fallback(
    settings, breaker_settings, heard, rf
):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "POLICIES": {"p": {"rate": "5/m"}}}
    assert asyncio.run(acheck(rf.get("/"), "p")).source == "redis"  # redis.asyncio, no thread
    assert [store for store, _ in heard["latency"]] == ["redis"]
    get_breaker(SCOPE).force_open("test")
    assert check(rf.get("/"), "p").source == "memory"
    assert [store for store, _ in heard["latency"]] == ["redis", "memory"]
