"""Which store decides a request's hits, sync and async, with what source; reset and reloads."""

from __future__ import annotations

import pytest

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.engine import decide
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.engine.decide import redis_store
from django_ratelimit_guard.stores.aredis import AsyncRedisStore, async_store
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit, request_from
from tests.support.cluster import ON_CLUSTER
from tests.support.guards import ASYNC_CLIENT, FAIL_MODES, NATIVE_ASYNC, outage, wait_for_probe


@FAIL_MODES
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


def test_a_settings_reload_closes_the_discarded_stores_connections(redis, settings):

    store = decide.redis_store()
    assert isinstance(store, RedisStore)
    store.hit_many([hit("c3", Algorithm.SLIDING_WINDOW, limit=100)])
    conn = store._evalsha.connection()  # type: ignore[union-attr]
    assert conn._sock is not None
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD}  # a reload builds new stores
    assert conn._sock is None
    assert decide.redis_store() is not store


@NATIVE_ASYNC
async def test_acheck_decides_on_redis_without_a_thread_hop(guarded, no_thread_hop):
    result = await acheck(request_from(ASYNC_CLIENT), "api", "tb")
    assert [d.source for d in result.decisions] == ["redis", "redis"]
    assert [d.remaining for d in result.decisions] == [4, 8]
    assert isinstance(async_store("ratelimit"), AsyncRedisStore)


@NATIVE_ASYNC
async def test_sync_and_async_share_counters_and_the_breaker(guarded, no_thread_hop):
    check(request_from(ASYNC_CLIENT), "api")
    assert (await acheck(request_from(ASYNC_CLIENT), "api")).remaining == 3
    get_breaker("ratelimit").force_open("maintenance")
    assert (await acheck(request_from(ASYNC_CLIENT), "api")).source == "memory"
    get_breaker("ratelimit").reset()
    assert (await acheck(request_from(ASYNC_CLIENT), "api")).source == "redis"


@pytest.mark.cluster
@ON_CLUSTER
def test_the_cluster_alias_gets_the_cluster_store(guarded):
    assert isinstance(redis_store(), ClusterStore)


@pytest.mark.cluster
@ON_CLUSTER
async def test_acheck_on_the_cluster_decides_on_redis(guarded):
    result = await acheck(request_from("203.0.113.8"), "sw", "tb")
    assert result.allowed and [d.source for d in result.decisions] == ["redis", "redis"]
