"""acheck on redis.asyncio against a real redis-server: no thread hop, the same breaker."""

from __future__ import annotations

import asyncio

import pytest
from django.test import RequestFactory

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard import guard as guard_module
from django_ratelimit_guard.breaker import get_breaker
from django_ratelimit_guard.stores.aredis import AsyncRedisStore, async_store, mirrorable

rf = RequestFactory()


@pytest.fixture
def guarded(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": {
            "api": {"rate": "5/m", "key": "ip"},
            "tb": {"rate": "9/m", "key": "ip", "algorithm": "token_bucket"},
        },
        "BREAKER": {"FAILURE_THRESHOLD": 2, "RESET_TIMEOUT": 30, "JITTER": 0.0},
    }
    return redis


def request(ip: str = "203.0.113.30"):  # type: ignore[no-untyped-def]
    return rf.post("/x/", REMOTE_ADDR=ip)


def evalsha_connections(server) -> int:  # type: ignore[no-untyped-def]
    """Open connections whose last command was EVALSHA (only acheck's clients run it here)."""
    return sum(1 for c in server.client().client_list() if c.get("cmd") == "evalsha")


@pytest.fixture
def no_thread_hop(monkeypatch):  # type: ignore[no-untyped-def]
    def forbidden(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the async path hopped to a thread")

    monkeypatch.setattr(guard_module, "sync_to_async", forbidden)


async def test_acheck_decides_on_redis_without_a_thread_hop(guarded, no_thread_hop):
    result = await acheck(request(), "api", "tb")
    assert [d.source for d in result.decisions] == ["redis", "redis"]
    assert [d.remaining for d in result.decisions] == [4, 8]
    assert isinstance(async_store("ratelimit"), AsyncRedisStore)


async def test_sync_and_async_share_counters_and_the_breaker(guarded, no_thread_hop):
    check(request(), "api")
    assert (await acheck(request(), "api")).remaining == 3
    get_breaker("ratelimit").force_open("maintenance")
    assert (await acheck(request(), "api")).source == "memory"
    get_breaker("ratelimit").reset()
    assert (await acheck(request(), "api")).source == "redis"


async def test_noscript_reloads_the_script_and_is_not_an_outage(guarded, no_thread_hop):
    await acheck(request(), "api")
    guarded.client().script_flush()
    result = await acheck(request(), "api")
    assert (result.source, result.remaining) == ("redis", 3)
    assert get_breaker("ratelimit").snapshot().consecutive_failures == 0


async def test_a_stopped_server_is_an_outage_the_breaker_counts(guarded, no_thread_hop):
    await acheck(request(), "api")
    guarded.stop()
    try:
        result = await acheck(request(), "api")
        assert result.source == "memory"
        assert get_breaker("ratelimit").snapshot().consecutive_failures == 1
        assert (await acheck(request(), "api")).source == "memory"
        assert get_breaker("ratelimit").state.value == "open"
    finally:
        guarded.start()


def test_clients_of_a_short_lived_loop_close_with_it(guarded):
    for _ in range(3):  # as async_to_sync does under WSGI: a new loop per call
        result = asyncio.run(acheck(request(), "api"))
        assert result.source == "redis"
        assert evalsha_connections(guarded) == 0


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "default"),
        ({"CLIENT_CLASS": "django_ratelimit_guard.redis.ClusterClient"}, None),
        (
            {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "SENTINELS": [("127.0.0.1", 26379)],
            },
            "sentinel",
        ),
        ({"CONNECTION_POOL_CLASS": "myproject.pools.Special"}, None),
    ],
)
def test_only_settings_it_can_mirror_get_a_native_client(options, expected):
    assert mirrorable({"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": options}) == expected
