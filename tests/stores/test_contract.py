"""One contract, every store: the memory fallback (``MemoryStore``), the Redis store
(``RedisStore``), the native async Redis store (``AsyncRedisStore``, awaited) and the Redis Cluster
store (``ClusterStore``), on real servers — what ``hit_many`` / ``ahit_many`` and ``reset`` promise.

Every hit of one call is decided together: a request rejected by a blocking policy counts against
none of its policies; ``count=False`` peeks; costs, shadow (``block=False``) policies, each
algorithm's verdicts and windows, ``reset``, and how long a counter is kept are the same on every
store — and every store decides every sequence of requests as the reference model does
(tests/support/reference.py). The clock is injected (``now_ms``).

A request's policies keyed on one client share one hash tag, so on Redis Cluster they share one
slot: that is where the Cluster store's all-or-nothing holds (across slots:
tests/stores/test_cluster.py). The Cluster params build the session's cluster once (``cluster``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.cluster import ClusterNode, RedisCluster

from django_ratelimit_guard.core.algorithms import Algorithm, Hit, Verdict, decide_many
from django_ratelimit_guard.stores.aredis import AsyncRedisStore
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.memory import MemoryStore
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit as shared_hit
from tests.support.builders import redis_cache
from tests.support.reference import HIT_SPECS, STEPS_WITH_RESETS, T0, ReferenceStore, hits_of

NOW = 1_700_000_000_000  # a fixed clock (ms) passed to every store
ALGORITHMS = list(Algorithm)
STORES = ["memory", "redis", "aredis", pytest.param("cluster", marks=pytest.mark.cluster)]

#: A hit of one client (one hash tag: one Cluster slot), keyed as the limiter keys them.
hit = partial(shared_hit, tag="client")

T = TypeVar("T")


class LoopThread:
    """An event loop in a thread of its own: sync code (even code running inside another event
    loop) awaits a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.run(self.loop.shutdown_asyncgens())  # closes the clients made in this loop
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Contracted:
    """A store under the contract: its own ``hit_many``, ``ahit_many`` and ``reset``; how long it
    keeps a key (``ttl_ms``) and how to empty it (``empty``), for the tests' bookkeeping."""

    #: How much a TTL read back may have run down since the write (Redis counts in real time).
    ttl_slack_ms = 1000

    def __init__(self, store: Any, keys: Any, empty: Any) -> None:
        self.store = store
        self.keys = keys  # a sync redis-py client on the same data
        self.empty = empty

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        return self.store.hit_many(hits, count=count, now_ms=now_ms)

    async def ahit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        return await self.store.ahit_many(hits, count=count, now_ms=now_ms)

    def reset(self, keys: Sequence[str]) -> None:
        self.store.reset(keys)

    def ttl_ms(self, key: str, now_ms: int) -> int:
        return int(self.keys.pttl(key))


class ContractedMemory(Contracted):
    ttl_slack_ms = 0  # the memory store's clock is the injected one

    def __init__(self) -> None:
        super().__init__(MemoryStore(1000), None, self.clear)

    def clear(self) -> None:
        self.store.clear()

    def ttl_ms(self, key: str, now_ms: int) -> int:
        return int(self.store._expires[self.store._index[key]] - now_ms)


class ContractedAsync(Contracted):
    """``AsyncRedisStore`` decides only through ``ahit_many``: its sync ``hit_many`` here awaits
    that on an event loop of its own. It has no ``reset``: ``reset()`` clears an alias through the
    sync store of the same Redis, as the engine does (``engine/decide.py`` ``reset_keys``)."""

    def __init__(self, store: AsyncRedisStore, twin: RedisStore, keys: Any, empty: Any) -> None:
        super().__init__(store, keys, empty)
        self.twin = twin
        self.loop = LoopThread()

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        return self.loop.run(self.store.ahit_many(hits, count=count, now_ms=now_ms))

    def reset(self, keys: Sequence[str]) -> None:
        self.twin.reset(keys)


@pytest.fixture(params=STORES)
def store(request) -> Iterator[Contracted]:  # type: ignore[no-untyped-def]
    kind = request.param
    if kind == "memory":
        yield ContractedMemory()
    elif kind == "cluster":
        deployment = request.getfixturevalue("redis_cluster")
        deployment.restore()
        deployment.flush()
        client = RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", node.port) for node in deployment.nodes],
            socket_timeout=2,
        )
        try:
            yield Contracted(ClusterStore("contract", client=client), client, deployment.flush)
        finally:
            client.close()
    else:
        server = request.getfixturevalue("redis_server")
        server.flush()
        client = server.client()
        redis_store = RedisStore("contract", client=client)
        if kind == "redis":
            yield Contracted(redis_store, client, server.flush)
        else:
            async_store = AsyncRedisStore("contract", redis_cache(server.url, timeout=2))
            contracted = ContractedAsync(async_store, redis_store, client, server.flush)
            try:
                yield contracted
            finally:
                contracted.loop.close()
        redis_store.close()
        client.close()


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


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_full_burst_is_admitted_exactly_then_rejected(store, algorithm):
    burst = hit("burst", algorithm, limit=7)
    verdicts = [store.hit_many([burst], now_ms=T0 + 5)[0] for _ in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 7 + [False]
    assert [v.remaining for v in verdicts[:7]] == [6, 5, 4, 3, 2, 1, 0]
    assert verdicts[7].retry_ms >= 1


def test_a_rejected_policy_means_no_policy_of_the_request_is_counted(store):
    wide = hit("wide", limit=100)
    narrow = hit("narrow", limit=1)
    store.hit_many([wide, narrow], now_ms=T0)
    rejected = store.hit_many([wide, narrow], now_ms=T0)
    assert [v.allowed for v in rejected] == [True, False]
    assert store.hit_many([wide], count=False, now_ms=T0)[0].remaining == 98  # not 97


def test_shadow_policy_over_its_limit_does_not_block_the_others(store):
    real = hit("real", Algorithm.SLIDING_WINDOW, limit=10)
    shadow = hit("shadow", Algorithm.SLIDING_WINDOW, limit=1, block=False)
    store.hit_many([real, shadow], now_ms=T0)
    verdicts = store.hit_many([real, shadow], now_ms=T0)
    assert [v.allowed for v in verdicts] == [True, False]
    assert store.hit_many([real], count=False, now_ms=T0)[0].remaining == 7


def test_token_bucket_refills_one_token_per_interval(store):
    bucket = hit("tb", Algorithm.TOKEN_BUCKET, limit=10, window_ms=10_000)  # a token a second
    for _ in range(10):
        assert store.hit_many([bucket], now_ms=T0)[0].allowed
    rejected = store.hit_many([bucket], now_ms=T0)[0]
    assert not rejected.allowed
    assert rejected.retry_ms == 500
    assert not store.hit_many([bucket], now_ms=T0 + 499)[0].allowed
    assert store.hit_many([bucket], now_ms=T0 + 1000)[0].allowed


def test_sliding_window_weights_the_previous_window(store):
    counter = hit("sw", Algorithm.SLIDING_WINDOW, limit=10)
    window_start = (T0 // 60_000 + 1) * 60_000
    for _ in range(10):
        assert store.hit_many([counter], now_ms=window_start + 1)[0].allowed
    # A quarter into the next window 3/4 of the previous 10 still count: ceil(7.5) = 8, so after
    # this hit 1 is left (rounding up: the estimate never admits more than the weighted count).
    peek = store.hit_many([counter], count=False, now_ms=window_start + 60_000 + 15_000)[0]
    assert peek.remaining == 1
    assert peek.allowed


def test_sliding_window_admits_no_extra_request_just_after_a_window_boundary(store):
    counter = hit("sw", Algorithm.SLIDING_WINDOW, limit=5)
    window_start = (T0 // 60_000 + 1) * 60_000
    for _ in range(5):
        assert store.hit_many([counter], now_ms=window_start + 59_990)[0].allowed
    # 20 ms later the previous window's 5 weigh 4.998: rounding down would admit a 6th request.
    assert not store.hit_many([counter], now_ms=window_start + 60_010)[0].allowed


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_counter_is_kept_exactly_as_long_as_its_algorithm_still_reads_it(store, algorithm):
    counted = hit(algorithm=algorithm, limit=5)
    now = NOW + 12_345  # into the window: how long a counter lives depends on where it starts
    store.hit_many([counted], now_ms=now)
    _, (write,) = decide_many([counted], [None], now)
    kept = store.ttl_ms(counted.key, now)
    assert write.ttl_ms - store.ttl_slack_ms <= kept <= write.ttl_ms


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(HIT_SPECS, min_size=3, max_size=3),
    sequence=STEPS_WITH_RESETS,
    start=st.integers(0, 10**7),
)
def test_every_store_decides_every_sequence_as_the_reference_does(store, specs, sequence, start):
    store.empty()
    reference = ReferenceStore()
    now = T0 + start
    for kind, step in sequence:
        if kind == "request":
            delay, chosen, count = step
            now += delay
            hits = hits_of(specs, chosen)
            expected = reference.hit_many(hits, count=count, now_ms=now)
            assert store.hit_many(hits, count=count, now_ms=now) == expected, (now, hits)
        else:
            keys = [h.key for h in hits_of(specs, step)]
            reference.reset(keys)
            store.reset(keys)
