"""Recovery: merge.lua and the reconciliation driver against a real redis-server, and through the
Django stack — what memory counted during an outage is merged back when the breaker closes."""

from __future__ import annotations

import time
from functools import partial

import pytest

from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.engine import reconcile as reconcile_module
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.engine.reconcile import reconcile
from django_ratelimit_guard.stores.fallback import fallback_store
from django_ratelimit_guard.stores.memory import MemoryStore
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit as shared_hit
from tests.support.guards import FAIL_MODES, outage, wait_for_probe
from tests.support.redis_servers import free_port


@pytest.fixture
def redis_client(redis_server):  # type: ignore[no-untyped-def]
    redis_server.flush()
    return redis_server.client()


#: A hit keyed as the limiter keys them; these tests count up to 10 unless they say otherwise.
hit = partial(shared_hit, limit=10)


def count(store: MemoryStore | RedisStore, h: Hit, times: int) -> None:
    for _ in range(times):
        store.hit_many([h])


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_memory_and_redis_counts_add_up(redis_client, algorithm):
    redis_store, memory = RedisStore("r", client=redis_client), MemoryStore(100)
    h = hit("a", algorithm)
    count(redis_store, h, 4)
    count(memory, h, 5)
    report = reconcile(redis_client, memory, background=False)
    assert report.merged == 1
    # 4 + 5 of 10 are used: exactly one more request fits.
    assert [redis_store.hit_many([h])[0].allowed for _ in range(2)] == [True, False]


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_client_blocked_in_memory_is_blocked_in_redis(redis_client, algorithm):
    redis_store, memory = RedisStore("r", client=redis_client), MemoryStore(100)
    h = hit("a", algorithm, limit=3)
    count(memory, h, 5)
    reconcile(redis_client, memory, background=False)
    assert not redis_store.hit_many([h])[0].allowed


def test_merging_twice_counts_once(redis_client):
    redis_store, memory = RedisStore("r", client=redis_client), MemoryStore(100)
    h = hit("a", Algorithm.SLIDING_WINDOW)
    count(memory, h, 4)
    reconcile(redis_client, memory, background=False)
    reconcile(redis_client, memory, background=False)
    count(memory, h, 2)
    reconcile(redis_client, memory, background=False)
    assert [redis_store.hit_many([h])[0].allowed for _ in range(5)] == [True] * 4 + [False]


def test_expired_memory_counts_are_not_merged(redis_client):
    memory = MemoryStore(100)
    h = hit("a", Algorithm.FIXED_WINDOW)
    memory.hit_many([h], now_ms=int(time.time() * 1000) - 600_000)
    assert reconcile(redis_client, memory, background=False).merged == 0
    assert redis_client.exists(h.key) == 0


def test_merge_reloads_its_script_after_a_flush(redis_client):
    memory = MemoryStore(100)
    count(memory, hit("a", Algorithm.SLIDING_WINDOW), 2)
    reconcile(redis_client, memory, background=False)
    redis_client.script_flush()
    count(memory, hit("b", Algorithm.SLIDING_WINDOW), 2)
    assert reconcile(redis_client, memory, background=False).merged == 1


def test_large_backlogs_are_bounded_on_the_probe_thread(redis_client, monkeypatch):
    monkeypatch.setattr(reconcile_module, "INLINE_ENTRIES", 50)
    monkeypatch.setattr(reconcile_module, "BATCH", 20)
    memory = MemoryStore(1000)
    for i in range(300):
        memory.hit_many([hit(f"c{i}", Algorithm.FIXED_WINDOW)])
    report = reconcile(redis_client, memory)
    assert report.sent <= 60
    assert report.deferred == 300 - report.sent
    deadline = time.monotonic() + 5
    while redis_client.dbsize() < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert redis_client.dbsize() == 300


def test_a_failed_merge_leaves_the_counts_to_the_next_probe(redis_server):
    import redis as redis_py
    from redis.backoff import NoBackoff
    from redis.retry import Retry

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


@FAIL_MODES
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


@FAIL_MODES
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


@FAIL_MODES
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
