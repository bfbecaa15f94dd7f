"""merge.lua and the reconciliation driver, against a real redis-server."""

from __future__ import annotations

import time

import pytest

from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.engine import reconcile as reconcile_module
from django_ratelimit_guard.engine.reconcile import reconcile
from django_ratelimit_guard.stores.memory import MemoryStore
from django_ratelimit_guard.stores.redis import RedisStore


@pytest.fixture
def client(redis_server):  # type: ignore[no-untyped-def]
    redis_server.flush()
    return redis_server.client()


def hit(name: str, algorithm: Algorithm, limit: int = 10) -> Hit:
    return Hit(f"rlg:{{{name}}}:p:{algorithm.code}", algorithm, limit, 60_000, 1, True)


def count(store: MemoryStore | RedisStore, h: Hit, times: int) -> None:
    for _ in range(times):
        store.hit_many([h])


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_memory_and_redis_counts_add_up(client, algorithm):
    redis_store, memory = RedisStore("r", client=client), MemoryStore(100)
    h = hit("a", algorithm)
    count(redis_store, h, 4)
    count(memory, h, 5)
    report = reconcile(client, memory, background=False)
    assert report.merged == 1
    # 4 + 5 of 10 are used: exactly one more request fits.
    assert [redis_store.hit_many([h])[0].allowed for _ in range(2)] == [True, False]


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_client_blocked_in_memory_is_blocked_in_redis(client, algorithm):
    redis_store, memory = RedisStore("r", client=client), MemoryStore(100)
    h = hit("a", algorithm, limit=3)
    count(memory, h, 5)
    reconcile(client, memory, background=False)
    assert not redis_store.hit_many([h])[0].allowed


def test_merging_twice_counts_once(client):
    redis_store, memory = RedisStore("r", client=client), MemoryStore(100)
    h = hit("a", Algorithm.SLIDING_WINDOW)
    count(memory, h, 4)
    reconcile(client, memory, background=False)
    reconcile(client, memory, background=False)
    count(memory, h, 2)
    reconcile(client, memory, background=False)
    assert [redis_store.hit_many([h])[0].allowed for _ in range(5)] == [True] * 4 + [False]


def test_expired_memory_counts_are_not_merged(client):
    memory = MemoryStore(100)
    h = hit("a", Algorithm.FIXED_WINDOW)
    memory.hit_many([h], now_ms=int(time.time() * 1000) - 600_000)
    assert reconcile(client, memory, background=False).merged == 0
    assert client.exists(h.key) == 0


def test_merge_reloads_its_script_after_a_flush(client):
    memory = MemoryStore(100)
    count(memory, hit("a", Algorithm.SLIDING_WINDOW), 2)
    reconcile(client, memory, background=False)
    client.script_flush()
    count(memory, hit("b", Algorithm.SLIDING_WINDOW), 2)
    assert reconcile(client, memory, background=False).merged == 1


def test_large_backlogs_are_bounded_on_the_probe_thread(client, monkeypatch):
    monkeypatch.setattr(reconcile_module, "INLINE_ENTRIES", 50)
    monkeypatch.setattr(reconcile_module, "BATCH", 20)
    memory = MemoryStore(1000)
    for i in range(300):
        memory.hit_many([hit(f"c{i}", Algorithm.FIXED_WINDOW)])
    report = reconcile(client, memory)
    assert report.sent <= 60
    assert report.deferred == 300 - report.sent
    deadline = time.monotonic() + 5
    while client.dbsize() < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.dbsize() == 300


def test_a_failed_merge_leaves_the_counts_to_the_next_probe(redis_server):
    import redis as redis_py
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from tests.support.redis_servers import free_port

    memory = MemoryStore(100)
    h = hit("a", Algorithm.FIXED_WINDOW, limit=2)
    count(memory, h, 3)
    dead = redis_py.Redis(
        host="127.0.0.1",
        port=free_port(),
        socket_timeout=0.1,
        socket_connect_timeout=0.1,
        retry=Retry(NoBackoff(), 0),
    )
    with pytest.raises(StoreUnavailable):
        reconcile(dead, memory)
    assert not memory.hit_many([h])[0].allowed  # still blocked in memory
    assert reconcile(redis_server.client(), memory, background=False).merged == 1  # merged later
    assert reconcile(redis_server.client(), memory, background=False).exported == 0
