"""Between the limiter and the stores: which store decides the hits of a request, with what source.

The limiter hands over every planned hit of one request. If the breaker of the store's scope
permits, all hits go to Redis in one guarded call (``guarded.py``; source ``redis``); otherwise —
breaker open, or the call failed — each hit follows its policy's fail mode (``failmodes.py``).
The async path awaits Redis on ``redis.asyncio`` (``stores/aredis.py``) through the same
protocol. Under Redis Cluster every shard has its own breaker scope (``cluster.py``).

Before any of that, a hit whose client Redis denied until a time not yet come is answered from
this process's memory of that denial, without a Redis command (``local.py``); every Redis answer
is remembered for that and for an outage (``continuity.py``). This module also keeps the
process's Redis store per cache alias, and lets other Redis users (nonce
claims, the most-limited-clients table) make their calls through the same breaker and merge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

from asgiref.sync import sync_to_async

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core.algorithms import Verdict
from django_ratelimit_guard.core.decisions import Source
from django_ratelimit_guard.core.exceptions import StoreError
from django_ratelimit_guard.engine import cluster, continuity, guarded, local, reconcile
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.engine.failmodes import fail_modes
from django_ratelimit_guard.engine.plan import PlannedHit
from django_ratelimit_guard.stores import answers, packing
from django_ratelimit_guard.stores.answers import AnswerMemory, answer_memory
from django_ratelimit_guard.stores.aredis import async_store, forget_async_stores
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.cluster_client import uses_cluster_client
from django_ratelimit_guard.stores.fallback import fallback_store
from django_ratelimit_guard.stores.redis import RedisStore

T = TypeVar("T")
Outcome = list[tuple[Verdict, Source]]

_stores: dict[str, RedisStore | ClusterStore] = {}
_merges: dict[str, guarded.Merge | None] = {}


@on_reload
def _forget_stores() -> None:
    for store in list(_stores.values()):
        if isinstance(store, RedisStore):
            store.close()
    _stores.clear()
    _merges.clear()
    forget_async_stores()
    packing.forget()


def redis_store(alias: str | None = None) -> RedisStore | ClusterStore:
    """The Redis store of a cache alias (default: ``CACHE_ALIAS``), created once per process:
    a :class:`ClusterStore` when the alias uses our ``ClusterClient``."""
    alias = alias or guard_settings().cache_alias
    store = _stores.get(alias)
    if store is None:
        store = ClusterStore(alias) if uses_cluster_client(alias) else RedisStore(alias)
        _stores[alias] = store
    return store


def merge_for(store: RedisStore | ClusterStore) -> guarded.Merge | None:
    """The merge a half-open probe of ``store``'s alias-wide scope runs first: the whole fallback
    store into one Redis. None under Cluster, whose shards merge node by node (``cluster.py``)."""
    try:
        return _merges[store.scope]
    except KeyError:
        pass
    merge = None
    if not isinstance(store, ClusterStore):
        merge = functools.partial(_merge_all, store)
    _merges[store.scope] = merge
    return merge


def _merge_all(store: RedisStore) -> None:
    reconcile.reconcile(store.client, fallback_store(), scope=store.scope)


def decide(planned: Sequence[PlannedHit], *, count: bool = True) -> Outcome:
    """Decide every planned hit of one request: a remembered denial (no Redis command), one Redis
    call, or the fail modes."""
    memory = answers.memory
    if memory is None:
        memory = answer_memory()
    if _local_denials if _local_denials is not None else _read_local_denials():
        # One dict lookup per hit; local.py decides whether a denial found here applies. One that
        # aged into the old generation is missed: a Redis round trip, never a wrong answer.
        young = memory.young
        for p in planned:
            answer = young.get(p.hit.key)
            if answer is not None and answer[1][3]:
                denied = local.denial(planned, memory, count)
                if denied is not None:
                    return denied
                break
    store = redis_store()
    at = answers.clock()
    if at < continuity.hold_until:  # recovering from an outage
        return _decide_held(store, planned, count, memory, at)
    if isinstance(store, ClusterStore):
        return cluster.decide(store, planned, count, memory, at)
    return _decide(store, planned, count, memory, at)


def _decide_held(
    store: RedisStore | ClusterStore,
    planned: Sequence[PlannedHit],
    count: bool,
    memory: AnswerMemory,
    at: float,
) -> Outcome:
    """:func:`decide` while clients counted during an outage are held to their share."""
    hold = continuity.held(planned)
    share_denied = None if hold is None else continuity.check_share(hold)
    counted = count and share_denied is None
    if isinstance(store, ClusterStore):
        outcome = cluster.decide(store, planned, counted, memory, at)
    else:
        outcome = _decide(store, planned, counted, memory, at)
    if hold is not None:
        outcome = continuity.settle(planned, hold, share_denied, outcome, count)
    return outcome


def _decide(
    store: RedisStore, planned: Sequence[PlannedHit], count: bool, memory: AnswerMemory, at: float
) -> Outcome:
    attempt = guarded.begin(store.scope, _merges.get(store.scope) or merge_for(store))
    if attempt is not None:
        generation = memory.generation
        hits = [p.hit for p in planned]
        try:
            verdicts = store.hit_many(hits, count=count)
        except StoreError as exc:
            attempt.failed(exc)
        else:
            attempt.succeeded()
            memory.remember(hits, verdicts, at, generation)
            return [(v, "redis") for v in verdicts]
    return fail_modes(planned, count, get_breaker(store.scope).retry_after())


async def adecide(planned: Sequence[PlannedHit], *, count: bool = True) -> Outcome:
    """The async twin of :func:`decide`: the same protocol, the Redis call awaited on
    ``redis.asyncio`` (no thread hop), except for aliases only the sync client can serve (Redis
    Cluster, custom client classes), which run :func:`decide` in a worker thread."""
    store = redis_store()
    astore = None if isinstance(store, ClusterStore) else async_store(store.scope)
    if astore is None:
        return await sync_to_async(decide, thread_sensitive=False)(planned, count=count)
    memory = answers.memory
    if memory is None:
        memory = answer_memory()
    local_on = _local_denials if _local_denials is not None else _read_local_denials()
    if local_on and any(
        (answer := memory.young.get(p.hit.key)) is not None and answer[1][3] for p in planned
    ):
        denied = local.denial(planned, memory, count)
        if denied is not None:
            return denied
    at = answers.clock()
    hold = continuity.held(planned) if at < continuity.hold_until else None
    share_denied = None if hold is None else continuity.check_share(hold)
    counted = count and share_denied is None
    outcome: Outcome | None = None
    attempt = await guarded.abegin(store.scope, merge_for(store))
    if attempt is not None:
        generation = memory.generation
        hits = [p.hit for p in planned]
        try:
            verdicts = await astore.ahit_many(hits, count=counted)
        except StoreError as exc:
            attempt.failed(exc)
        else:
            attempt.succeeded()
            memory.remember(hits, verdicts, at, generation)
            outcome = [(v, "redis") for v in verdicts]
    if outcome is None:
        outcome = fail_modes(planned, counted, get_breaker(store.scope).retry_after())
    if hold is not None:
        outcome = continuity.settle(planned, hold, share_denied, outcome, count)
    return outcome


#: LOCAL_DENIALS, kept here for the hot path; None: read it at the next decision.
_local_denials: bool | None = None


@on_reload
def _forget_local_denials() -> None:
    global _local_denials
    _local_denials = None


def _read_local_denials() -> bool:
    global _local_denials
    _local_denials = guard_settings().local_denials
    return _local_denials


def redis_call(
    fn: Callable[[RedisStore | ClusterStore], T],
    on_error: Callable[[StoreError], object] | None = None,
) -> T | guarded.Unavailable:
    """``fn(store)`` on the ``CACHE_ALIAS`` store through its alias-wide breaker (nonce claims,
    the most-limited-clients table): its value, or ``guarded.UNAVAILABLE``."""
    store = redis_store()
    return guarded.call(store.scope, lambda: fn(store), merge_for(store), on_error)


def reset_keys(keys: Sequence[str]) -> None:
    """Forget the counters under ``keys`` in memory and in Redis (raises if Redis is down), and
    this process's remembered answers for them (before and after: a call in flight meanwhile
    is not remembered)."""
    memory = answer_memory()
    for key in keys:
        memory.forget(key)
    fallback_store().reset(keys)
    redis_store().reset(keys)
    for key in keys:
        memory.forget(key)


__all__ = ["adecide", "decide", "merge_for", "redis_call", "redis_store", "reset_keys"]
