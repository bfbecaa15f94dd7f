"""One contract, every store: the memory fallback and the Redis store (a real redis-server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.stores.memory import MemoryStore
from django_ratelimit_guard.stores.redis import RedisStore

NOW = 1_700_000_000_000  # a fixed clock (ms) passed to both stores
ALGORITHMS = list(Algorithm)


@pytest.fixture(params=["memory", "redis"])
def store(request, redis_server) -> Iterator[MemoryStore | RedisStore]:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        yield MemoryStore(1000)
    else:
        redis_server.flush()
        yield RedisStore("contract", client=redis_server.client())


def hit(
    key: str = "k",
    algorithm: Algorithm = Algorithm.FIXED_WINDOW,
    limit: int = 3,
    cost: int = 1,
    block: bool = True,
) -> Hit:
    return Hit(f"rlg:{{{key}}}:p:{algorithm.code}", algorithm, limit, 60_000, cost, block)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_limit_requests_are_allowed_then_rejected(store, algorithm):
    results = [store.hit_many([hit(algorithm=algorithm)], now_ms=NOW)[0] for _ in range(4)]
    assert [v.allowed for v in results] == [True, True, True, False]
    assert [v.remaining for v in results[:3]] == [2, 1, 0]
    assert results[3].retry_ms >= 1


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_peeking_does_not_count(store, algorithm):
    for _ in range(5):
        assert store.hit_many([hit(algorithm=algorithm)], count=False, now_ms=NOW)[0].allowed
    assert store.hit_many([hit(algorithm=algorithm)], now_ms=NOW)[0].remaining == 2


def test_a_rejected_request_consumes_no_budget_of_its_other_policies(store):
    tight, loose = hit("a", limit=1), hit("b", limit=10)
    store.hit_many([tight, loose], now_ms=NOW)
    for _ in range(3):
        verdicts = store.hit_many([tight, loose], now_ms=NOW)
        assert [v.allowed for v in verdicts] == [False, True]
    assert store.hit_many([loose], now_ms=NOW)[0].remaining == 8


def test_shadow_policies_do_not_make_a_request_rejected(store):
    shadow, real = hit("a", limit=1, block=False), hit("b", limit=10)
    store.hit_many([shadow, real], now_ms=NOW)
    verdicts = store.hit_many([shadow, real], now_ms=NOW)
    assert [v.allowed for v in verdicts] == [False, True]
    assert store.hit_many([real], now_ms=NOW)[0].remaining == 7


def test_cost_consumes_several_units(store):
    assert store.hit_many([hit(limit=5, cost=3)], now_ms=NOW)[0].remaining == 2
    assert not store.hit_many([hit(limit=5, cost=3)], now_ms=NOW)[0].allowed


def test_the_next_window_grants_a_new_budget(store):
    for _ in range(3):
        store.hit_many([hit()], now_ms=NOW)
    assert not store.hit_many([hit()], now_ms=NOW)[0].allowed
    assert store.hit_many([hit()], now_ms=NOW + 60_000)[0].allowed


def test_reset_forgets_a_client(store):
    for _ in range(3):
        store.hit_many([hit("a"), hit("b")], now_ms=NOW)
    store.reset([hit("a").key])
    assert store.hit_many([hit("a")], now_ms=NOW)[0].remaining == 2
    assert not store.hit_many([hit("b")], now_ms=NOW)[0].allowed


def test_empty_requests_decide_nothing(store):
    assert store.hit_many([], now_ms=NOW) == []
    store.reset([])


async def test_async_twin_shares_the_counters(store):
    await store.ahit_many([hit()], now_ms=NOW)
    assert store.hit_many([hit()], now_ms=NOW)[0].remaining == 1
