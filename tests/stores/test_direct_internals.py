"""The lean Redis path reads redis-py internals (``_sock``, ``_reader``, ``send_packed_command``,
``can_read``, the pool's ``get_connection`` signature). Each change a redis-py release could make
is simulated here (monkeypatch): the store falls back to redis-py's public ``evalsha`` and keeps
deciding — it never breaks (issue #14, item 4). Real redis-server."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.stores import direct
from django_ratelimit_guard.stores.aredis import lean_pool
from django_ratelimit_guard.stores.direct import PublicEvalsha, ThreadConnections, evalsha_for
from django_ratelimit_guard.stores.redis import RedisStore

HIT = Hit("rlg:{internals}:p:fw", Algorithm.FIXED_WINDOW, 5, 60_000, 1, True)


def decide_twice(client: redis.Redis) -> list[int]:
    store = RedisStore("internals", client=client)
    return [store.hit_many([HIT])[0].remaining for _ in range(2)]


@pytest.mark.parametrize(
    "missing", ["_sock", "send_packed_command", "send_command", "read_response", "can_read"]
)
def test_a_connection_without_an_internal_the_lean_path_reads_gets_the_public_api(
    redis_server, missing
):
    """A release that renames one of them (its own code then uses the new name: only ours would
    break) is detected before the first call, and the client's own evalsha decides."""

    class Renamed(redis.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if missing == "_sock":
                del self._sock

        def __getattribute__(self, name: str) -> Any:
            if name == missing and missing != "_sock":
                raise AttributeError(name)
            return super().__getattribute__(name)

    renamed = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=Renamed))
    assert isinstance(evalsha_for(renamed), PublicEvalsha)
    assert isinstance(evalsha_for(redis_server.client()), ThreadConnections)  # the real one
    # What the store then does: redis-py's public evalsha, deciding as usual.
    redis_server.flush()
    store = RedisStore("internals", client=redis_server.client())
    store._evalsha = PublicEvalsha(store.client)
    assert [store.hit_many([HIT])[0].remaining for _ in range(2)] == [4, 3]


def test_a_lean_call_that_meets_a_changed_internal_falls_back_and_still_decides(
    redis_server, monkeypatch, caplog
):
    """A change the up-front check cannot see (a method's signature): the first call raises
    TypeError before anything is sent; that call and every later one go through redis-py."""
    redis_server.flush()
    client = redis_server.client()
    store = RedisStore("internals", client=client)
    assert isinstance(store._evalsha, ThreadConnections)

    original = redis.Connection.send_packed_command

    def lists_only(self: Any, command: Any, check_health: bool = True) -> None:
        # A release whose send_packed_command takes what its own pack_command returns (a list)
        # and nothing else: redis-py's path works, ours (a tuple of pre-packed bytes) does not.
        if not isinstance(command, list):
            raise TypeError("send_packed_command expects a list")
        original(self, command, check_health)

    monkeypatch.setattr(redis.Connection, "send_packed_command", lists_only)
    remaining = [store.hit_many([HIT])[0].remaining for _ in range(3)]
    assert remaining == [4, 3, 2]  # counted once each: the failed lean call sent nothing
    assert isinstance(store._evalsha, PublicEvalsha)
    assert "does not fit this redis-py" in caplog.text


def test_a_pool_whose_get_connection_lost_its_command_name_is_called_without_one():
    def new_style(self: Any, *keys: Any, **options: Any) -> None: ...

    def old_style(self: Any, command_name: str, *keys: Any, **options: Any) -> None: ...

    def middle(self: Any, command_name: Any = None, *keys: Any, **options: Any) -> None: ...

    assert direct._named_get_connection(new_style) is False
    assert direct._named_get_connection(old_style) is True
    assert direct._named_get_connection(middle) is False
    assert inspect.signature(redis.ConnectionPool.get_connection)  # the real one still reads


def test_a_connection_that_cannot_be_built_from_the_pools_arguments_gets_the_public_api():
    pool = redis.ConnectionPool(host="127.0.0.1")
    pool.connection_kwargs = {"unknown_argument": 1}  # a pool/connection mismatch
    assert direct.lean_capable(pool) is False


@pytest.mark.parametrize("missing", ["_reader", "send_packed_command", "is_connected"])
def test_an_async_connection_without_an_internal_gets_the_public_api(missing):
    class Changed(aredis.Connection):
        def __getattribute__(self, name: str) -> Any:
            if name == missing:
                raise AttributeError(name)
            return super().__getattribute__(name)

    client = aredis.Redis(connection_pool=aredis.ConnectionPool(connection_class=Changed))
    assert lean_pool(client) is None
    assert lean_pool(aredis.Redis()) is not None  # the real one has them all


async def test_an_async_lean_call_that_meets_a_changed_internal_falls_back(
    settings, redis, monkeypatch, caplog
):
    from django_ratelimit_guard.stores.aredis import async_store

    store = async_store("ratelimit")
    assert store is not None
    assert (await store.ahit_many([HIT]))[0].remaining == 4

    original = aredis.Connection.send_packed_command

    async def lists_only(self: Any, command: Any, check_health: bool = True) -> None:
        if not isinstance(command, list):  # see the sync test above
            raise TypeError("send_packed_command expects a list")
        await original(self, command, check_health)

    monkeypatch.setattr(aredis.Connection, "send_packed_command", lists_only)
    assert [(await store.ahit_many([HIT]))[0].remaining for _ in range(2)] == [3, 2]
    assert store.lean_broken
    assert "does not fit this redis-py" in caplog.text
