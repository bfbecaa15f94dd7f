"""Between the limiter and the stores: which store decides each hit, and with what source.

The limiter hands over every planned hit of one request. If the breaker of the store's scope
permits, all hits go to Redis in one call (source ``redis``); otherwise — breaker open, or the
call failed — each hit follows its policy's fail mode:

* ``memory``: decided by the process-wide fallback store at the fallback rate (source ``memory``);
* ``closed``: denied unchecked (source ``closed``; the HTTP layer answers 503 + Retry-After);
* ``open``: allowed unchecked (source ``open``).

While a breaker is open no request touches Redis; half-open, only its permitted probes do. When a
probe's success is about to close the breaker, the counts taken in memory are merged into Redis
first (``reconcile.py``). The async path shares this core (breaker, fail modes) and awaits
Redis on ``redis.asyncio`` (``stores/aredis.py``). Under Redis Cluster every shard has its own
breaker scope, ``<alias>/<host:port>`` (``shards.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import redis.exceptions as rexc
from asgiref.sync import sync_to_async

from django_ratelimit_guard import fleet_poll, metrics
from django_ratelimit_guard.algorithms import Hit, Verdict
from django_ratelimit_guard.breaker import Call, CircuitBreaker, get_breaker
from django_ratelimit_guard.conf import guard_settings, on_reload
from django_ratelimit_guard.decisions import Source
from django_ratelimit_guard.exceptions import StoreError, StoreUnavailable
from django_ratelimit_guard.policies import FailMode, Policy
from django_ratelimit_guard.rates import Rate
from django_ratelimit_guard.reconcile import reconcile
from django_ratelimit_guard.stores import packing
from django_ratelimit_guard.stores.aredis import async_store, forget_async_stores
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.memory import fallback_store
from django_ratelimit_guard.stores.redis import RedisStore

logger = logging.getLogger("django_ratelimit_guard")


class PlannedHit(NamedTuple):
    """A hit together with what the fail modes need to know about its policy (a NamedTuple, as
    ``Hit`` is: one is built per policy per request)."""

    hit: Hit
    policy: Policy
    rate: Rate
    fallback: Rate  # the per-process rate the memory fallback enforces


_stores: dict[str, RedisStore | ClusterStore] = {}

#: Called with (scope, kind) for every store error that does not open the breaker ("pool",
#: "script") and every outage ("connection", "timeout", ...); metrics hook in here.
error_listeners: list[Callable[[str, str], None]] = []

#: Don't log the same kind of local store error more than once per this many seconds.
ERROR_LOG_INTERVAL = 10.0
_last_logged: dict[tuple[str, str], float] = {}


@on_reload
def _forget_stores() -> None:
    for store in list(_stores.values()):
        if isinstance(store, RedisStore):
            store.close()
    _stores.clear()
    forget_async_stores()
    packing.forget()


def redis_store(alias: str | None = None) -> RedisStore | ClusterStore:
    """The Redis store of a cache alias (default: ``CACHE_ALIAS``), created once per process:
    a :class:`ClusterStore` when the alias uses our ``ClusterClient``."""
    alias = alias or guard_settings().cache_alias
    store = _stores.get(alias)
    if store is None:
        from django_ratelimit_guard.shards import uses_cluster_client

        store = ClusterStore(alias) if uses_cluster_client(alias) else RedisStore(alias)
        _stores[alias] = store
    return store


def decide(planned: Sequence[PlannedHit], *, count: bool = True) -> list[tuple[Verdict, Source]]:
    """Decide every planned hit of one request: one Redis call, or the fail modes."""
    fleet_poll.poll()  # a clock compare; fleet commands are read by a background thread
    store = redis_store()
    if isinstance(store, ClusterStore):
        from django_ratelimit_guard import shards

        return shards.decide(store, planned, count)
    breaker = get_breaker(store.scope)
    call = breaker.acquire()
    if call is not None:
        verdicts = _call_redis(store, breaker, call, planned, count)
        if verdicts is not None:
            return [(v, "redis") for v in verdicts]
    return _fail_modes(planned, count, breaker)


async def adecide(
    planned: Sequence[PlannedHit], *, count: bool = True
) -> list[tuple[Verdict, Source]]:
    """The async twin of :func:`decide`: the same breaker and fail-mode core; the Redis call is
    awaited on ``redis.asyncio`` (no thread hop), except for aliases only the sync client can
    serve (Redis Cluster), which run :func:`decide` in a worker thread."""
    fleet_poll.poll()
    store = redis_store()
    astore = None if isinstance(store, ClusterStore) else async_store(store.scope)
    if astore is None or isinstance(store, ClusterStore):
        return await sync_to_async(decide, thread_sensitive=False)(planned, count=count)
    breaker = get_breaker(store.scope)
    call = breaker.acquire()
    if call is not None:
        try:
            if _reconcile_first(breaker, call):
                # Rare (once per recovery) and bounded; the merge uses the sync client.
                await sync_to_async(_merge_before_probe, thread_sensitive=False)(store)
            started = time.monotonic()  # the merge is not part of the call's latency
            verdicts = await astore.ahit_many([p.hit for p in planned], count=count)
        except StoreError as exc:
            _store_failed(store.scope, breaker, call, exc)
        else:
            call.success(time.monotonic() - started)
            return [(v, "redis") for v in verdicts]
    return _fail_modes(planned, count, breaker)


def _call_redis(
    store: RedisStore,
    breaker: CircuitBreaker,
    call: Call,
    planned: Sequence[PlannedHit],
    count: bool,
) -> list[Verdict] | None:
    started = None
    try:
        if call.probe and _reconcile_first(breaker, call):
            _merge_before_probe(store)
            started = time.monotonic()  # the merge is not part of the call's latency
        verdicts = store.hit_many([p.hit for p in planned], count=count)
    except StoreError as exc:
        _store_failed(store.scope, breaker, call, exc)
        return None
    # Without a merge the call's own start (taken by acquire()) is the start: one clock read less.
    call.success(None if started is None else time.monotonic() - started)
    return verdicts


def _store_failed(scope: str, breaker: CircuitBreaker, call: Call, exc: StoreError) -> None:
    """Report a failed store call to its breaker (shared by the sync, async and cluster paths)."""
    if isinstance(exc, StoreUnavailable):
        call.failure(exc.reason)
        _notify_error(scope, exc.reason)
        return
    # A local problem (pool exhausted) or a script bug: Redis itself is fine, so the breaker
    # stays as it is, but this request still needs an answer.
    kind = getattr(exc, "reason", "other")
    call.release()
    breaker.count_error(kind)
    _notify_error(scope, kind)
    _log_local_error(scope, kind, exc)


def _reconcile_first(breaker: CircuitBreaker, call: Call) -> bool:
    """Whether this call is a half-open probe and the counts kept in memory during the outage
    must reach Redis first, so that no request — not even the probe — gets a fresh budget."""
    return call.probe and guard_settings().fallback.reconcile


def _merge_before_probe(store: RedisStore) -> None:
    try:
        reconcile(store.client, fallback_store())
    except (rexc.RedisError, OSError) as exc:
        raise store.error(exc) from exc


def _fail_modes(
    planned: Sequence[PlannedHit], count: bool, breaker: CircuitBreaker
) -> list[tuple[Verdict, Source]]:
    out: list[tuple[Verdict, Source] | None] = [None] * len(planned)
    memory: list[int] = []
    denied = False
    for i, p in enumerate(planned):
        mode = p.policy.fail_mode
        if mode is FailMode.MEMORY:
            memory.append(i)
        elif mode is FailMode.CLOSED:
            retry_ms = max(1000, int(breaker.retry_after() * 1000))
            out[i] = (Verdict(False, 0, retry_ms, retry_ms), "closed")
            denied = denied or p.policy.block
        else:
            out[i] = (Verdict(True, max(0, p.hit.limit - p.hit.cost), p.hit.window_ms, 0), "open")
    if memory:
        hits = [_fallback_hit(planned[i]) for i in memory]
        # All or nothing, as in Redis: a request denied by a closed policy consumes no budget.
        started = time.perf_counter()
        verdicts = fallback_store().hit_many(hits, count=count and not denied)
        metrics.observe_store_latency("memory", time.perf_counter() - started)
        for i, verdict in zip(memory, verdicts, strict=True):
            out[i] = (verdict, "memory")
    return [item for item in out if item is not None]


def _fallback_hit(p: PlannedHit) -> Hit:
    hit = p.hit
    return Hit(hit.key, hit.algorithm, p.fallback.limit, p.fallback.window_ms, hit.cost, hit.block)


def _notify_error(scope: str, kind: str) -> None:
    for listener in error_listeners:
        try:
            listener(scope, kind)
        except Exception:
            logger.exception("A store error listener failed")


def _log_local_error(scope: str, kind: str, exc: Exception) -> None:
    now = time.monotonic()
    if now - _last_logged.get((scope, kind), -ERROR_LOG_INTERVAL) >= ERROR_LOG_INTERVAL:
        _last_logged[(scope, kind)] = now
        logger.error(
            "Rate-limit store %r error (%s), decided by the fail modes: %s",
            scope,
            kind,
            exc,
            extra={"scope": scope, "error": kind},
        )


def reset_keys(keys: Sequence[str]) -> None:
    """Forget the counters under ``keys`` in memory and in Redis (raises if Redis is down)."""
    fallback_store().reset(keys)
    redis_store().reset(keys)
