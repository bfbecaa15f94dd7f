"""NOSCRIPT recovery: a Redis that lost its scripts is sent them again, never an outage."""

from __future__ import annotations

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit, request_from
from tests.support.guards import ASYNC_CLIENT, NATIVE_ASYNC


def test_the_direct_path_reloads_the_script_after_a_script_flush(redis_server):
    redis_server.flush()
    store = RedisStore("reload", client=redis_server.client())
    store.hit_many([hit("b", Algorithm.SLIDING_WINDOW, limit=100)])
    redis_server.client().script_flush()
    (verdict,) = store.hit_many([hit("b", Algorithm.SLIDING_WINDOW, limit=100)])
    assert verdict.allowed
    assert verdict.remaining == 98


def test_script_is_reloaded_after_redis_loses_it(redis):
    assert check(request_from(), "login").allowed
    redis.client().script_flush()
    assert check(request_from(), "login").remaining == 1


@NATIVE_ASYNC
async def test_noscript_reloads_the_script_and_is_not_an_outage(guarded, no_thread_hop):
    await acheck(request_from(ASYNC_CLIENT), "api")
    guarded.client().script_flush()
    result = await acheck(request_from(ASYNC_CLIENT), "api")
    assert (result.source, result.remaining) == ("redis", 3)
    assert get_breaker("ratelimit").snapshot().consecutive_failures == 0
