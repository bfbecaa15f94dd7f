"""The native async Redis store (redis.asyncio) against a real redis-server: which clients it can
mirror, clients bound to their event loop, the pre-packed command on connections of its own,
cancellation, pool limits and timeouts."""

from __future__ import annotations

import asyncio

import pytest

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.stores.aredis import async_store, mirrorable
from tests.support.builders import request_from
from tests.support.guards import ASYNC_CLIENT, NATIVE_ASYNC, native_async

pytestmark = NATIVE_ASYNC


def evalsha_connections(server) -> int:  # type: ignore[no-untyped-def]
    """Open connections whose last command was EVALSHA (only acheck's clients run it here)."""
    return sum(1 for c in server.client().client_list() if c.get("cmd") == "evalsha")


@native_async(on="own_redis")  # every connection of that server is this test's
def test_clients_of_a_short_lived_loop_close_with_it(guarded):
    for _ in range(3):  # as async_to_sync does under WSGI: a new loop per call
        result = asyncio.run(acheck(request_from(ASYNC_CLIENT), "api"))
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


async def test_acheck_sends_the_decision_pre_packed_and_decides_like_the_client_path(guarded):
    import redis.asyncio as aredis

    from django_ratelimit_guard.stores import aredis as aredis_store

    # Another client first: the script is then loaded (a NOSCRIPT reply would be a second send).
    await acheck(request_from(ASYNC_CLIENT), "api")
    store = async_store("ratelimit")
    assert store is not None
    client = await store.client()
    assert aredis_store.lean_pool(client) is client.connection_pool
    lean = store._lean
    assert isinstance(lean, aredis_store.LoopConnections)
    sent: list[bytes] = []
    real = lean.send

    async def spy(command):  # type: ignore[no-untyped-def]
        sent.append(command)
        return await real(command)

    lean.send = spy  # type: ignore[method-assign]
    try:
        first = await acheck(request_from("203.0.113.31"), "api", "tb")
    finally:
        del lean.send
    assert len(sent) == 1  # one round trip for both policies
    assert sent[0].startswith(b"*17\r\n$7\r\nEVALSHA\r\n")
    # The same counters through the client's own evalsha: a subclass never takes the lean path.
    subclass = type("Sub", (aredis.Redis,), {})
    assert aredis_store.lean_pool(subclass(connection_pool=client.connection_pool)) is None
    second = check(request_from("203.0.113.31"), "api", "tb")
    assert [d.remaining for d in first.decisions] == [4, 8]
    assert [d.remaining for d in second.decisions] == [3, 7]


async def test_a_connection_the_server_closed_while_idle_is_replaced_before_use(guarded):
    await acheck(request_from("203.0.113.33"), "api")
    for entry in guarded.client().client_list():
        if entry.get("cmd") == "evalsha":
            guarded.client().client_kill_filter(_id=entry["id"])
    await asyncio.sleep(0.05)  # let the loop see the close
    result = await acheck(request_from("203.0.113.33"), "api")
    assert (result.source, result.remaining) == ("redis", 3)
    assert get_breaker("ratelimit").snapshot().consecutive_failures == 0


async def test_a_cancelled_decision_never_leaves_its_reply_for_the_next_one(guarded):
    from django_ratelimit_guard.stores import aredis as aredis_store

    await acheck(request_from("203.0.113.34"), "api")
    store = async_store("ratelimit")
    assert store is not None and store._lean is not None
    lean = store._lean
    (conn,) = lean.idle
    guarded.freeze()  # the reply cannot come before the cancel
    try:
        task = asyncio.ensure_future(lean.send(b"*1\r\n$4\r\nPING\r\n"))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        guarded.thaw()
    assert not conn.is_connected  # disconnected, not returned to the idle list
    assert conn not in lean.idle
    result = await acheck(request_from("203.0.113.34"), "api")
    assert (result.source, result.remaining) == ("redis", 3)
    assert isinstance(lean, aredis_store.LoopConnections)


async def test_more_concurrent_decisions_than_max_connections_are_a_pool_error_not_an_outage(
    guarded, settings
):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            **settings.CACHES["ratelimit"],
            "OPTIONS": {
                **settings.CACHES["ratelimit"]["OPTIONS"],
                "CONNECTION_POOL_KWARGS": {"max_connections": 2},
            },
        },
    }
    results = await asyncio.gather(
        *(acheck(request_from(f"203.0.113.{40 + i}"), "api") for i in range(6))
    )
    sources = [r.source for r in results]
    assert sources.count("redis") >= 2
    assert set(sources) <= {"redis", "memory"}
    snapshot = get_breaker("ratelimit").snapshot()
    assert snapshot.state.value == "closed"  # a local limit says nothing about Redis
    assert get_breaker("ratelimit").error_counts().get("pool", 0) == sources.count("memory")


@pytest.mark.parametrize(
    "make",
    [
        lambda aredis: aredis.Redis(single_connection_client=True),
        lambda aredis: aredis.Redis(encoding="latin-1"),
        lambda aredis: type("Sub", (aredis.Redis,), {})(),
        lambda aredis: aredis.Redis(connection_pool=type("Pool", (aredis.ConnectionPool,), {})()),
        lambda aredis: aredis.Redis(connection_pool=aredis.BlockingConnectionPool()),
    ],
    ids=["single-connection", "latin-1", "subclass", "custom-pool", "blocking-pool"],
)
def test_other_async_clients_keep_their_own_evalsha(make):
    import redis.asyncio as aredis

    from django_ratelimit_guard.stores.aredis import lean_pool

    assert lean_pool(make(aredis)) is None


@pytest.mark.parametrize(
    "connected_first", [True, False], ids=["open-connection", "new-connection"]
)
async def test_a_frozen_redis_costs_acheck_one_socket_timeout(guarded, settings, connected_first):
    import time

    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            **settings.CACHES["ratelimit"],
            "OPTIONS": {"SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2},
        },
    }
    if connected_first:
        await acheck(request_from("203.0.113.32"), "api")
    guarded.freeze()
    try:
        started = time.monotonic()
        result = await acheck(request_from("203.0.113.32"), "api")
        waited = time.monotonic() - started
    finally:
        guarded.thaw()
    assert result.source == "memory"
    assert waited < 0.35  # one timeout, not a retry loop
