"""The guard under Redis Cluster: one breaker per shard, so a dead shard degrades only its keys.

``guard.decide`` hands a cluster alias's hits here. They are routed to the primaries that own
them (``stores/cluster.py``); each shard's breaker scope ``<alias>/<host:port>`` is consulted on
its own: shards whose breaker permits are called concurrently, the rest — and any shard whose
call fails — go to the fail modes of their policies, as for a single Redis (``guard._fail_modes``).

When a replica takes over a dead master's slots, the keys route to the new node's scope (its
breaker closed) as soon as the client re-reads the slot map — on the next failed call or on the
half-open probe of the dead node's scope, which redis-py redirects to the new primary.

Reconciliation (merging the counts taken in memory back into Redis) runs when a shard's breaker
is about to close, as for a single Redis (per node: :func:`reconcile_cluster`), but only if no
other shard of the alias is still open or half-open: the merge drains the whole fallback store,
and counts of a shard that is still down would be lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast

import redis.exceptions as rexc
from django.conf import settings
from django.utils.module_loading import import_string

from django_ratelimit_guard import guard
from django_ratelimit_guard.algorithms import Verdict
from django_ratelimit_guard.breaker import BreakerState, all_breakers, get_breaker
from django_ratelimit_guard.decisions import Source
from django_ratelimit_guard.exceptions import StoreError
from django_ratelimit_guard.reconcile import ReconcileReport, merge
from django_ratelimit_guard.redis import ClusterClient
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.memory import fallback_store

logger = logging.getLogger("django_ratelimit_guard")


def uses_cluster_client(alias: str) -> bool:
    """Whether the cache alias is configured with our ``ClusterClient`` (or a subclass); no I/O."""
    cache = cast("dict[str, Any]", settings.CACHES.get(alias) or {})
    options = cache.get("OPTIONS") or {}
    client_class = options.get("CLIENT_CLASS")
    if client_class is None:
        return False
    if isinstance(client_class, str):
        try:
            client_class = import_string(client_class)
        except ImportError:
            return False  # django-redis itself reports the bad path when the cache is used
    return isinstance(client_class, type) and issubclass(client_class, ClusterClient)


def decide(
    store: ClusterStore, planned: Sequence[guard.PlannedHit], count: bool
) -> list[tuple[Verdict, Source]]:
    hits = [p.hit for p in planned]
    try:
        batches = store.route(hits)
    except (StoreError, Exception) as exc:
        breaker = get_breaker(store.scope)
        call = breaker.acquire()
        if call is not None:
            guard._store_failed(store.scope, breaker, call, _as_store_error(store, exc))
        return guard._fail_modes(planned, count, breaker)
    out: list[tuple[Verdict, Source] | None] = [None] * len(planned)
    permitted = []
    refused = []
    for batch in batches:
        breaker = get_breaker(batch.scope)
        call = breaker.acquire()
        if call is None:
            refused.append(batch)
        else:
            permitted.append((batch, breaker, call))
    outcomes = store.run(hits, [batch for batch, _, _ in permitted], count=count)
    for (batch, breaker, call), outcome in zip(permitted, outcomes, strict=True):
        if outcome.error is not None:
            guard._store_failed(batch.scope, breaker, call, outcome.error)
            refused.append(batch)
            continue
        if guard._reconcile_first(breaker, call) and _others_closed(store, batch.scope):
            reconcile_cluster(store)
        call.success(outcome.duration)
        assert outcome.verdicts is not None
        for i, verdict in outcome.verdicts.items():
            out[i] = (verdict, "redis")
    for batch in refused:
        # All or nothing per shard: a "closed" policy denying here stops this shard's memory counts.
        indices = batch.indices
        decided = guard._fail_modes([planned[i] for i in indices], count, get_breaker(batch.scope))
        for i, item in zip(indices, decided, strict=True):
            out[i] = item
    return [item for item in out if item is not None]


def reconcile_cluster(store: ClusterStore) -> tuple[int, int]:
    """Merge the fallback store's counts into the cluster, one pipelined batch per node.

    ``reconcile.reconcile`` can't be used as is: redis-py's ClusterPipeline refuses EVALSHA
    (``RedisClusterException``, not even a ``RedisError``). Entries are grouped by the node that
    owns their slot and merged through that node's own client; a node that fails loses only its
    entries (logged). Returns (sent, merged).
    """
    fallback = fallback_store()
    entries = fallback.export_unmerged()
    if not entries:
        return 0, 0
    client = store.client
    by_node: dict[str, tuple[Any, list[Any]]] = {}
    for entry in entries:
        try:
            node = client.get_node_from_key(entry.key)
        except rexc.RedisClusterException:  # an uncovered slot: nowhere to merge it
            continue
        by_node.setdefault(node.name, (node, []))[1].append(entry)
    report = ReconcileReport()
    for name, (node, batch) in by_node.items():
        try:
            merge(client.get_redis_connection(node), batch, report)
        except (rexc.RedisError, OSError) as exc:
            logger.warning(
                "Reconciliation with %s failed; %d counters taken in memory were not merged: %s",
                name,
                len(batch),
                exc,
                extra={"node": name, "entries": len(batch)},
            )
            continue
        # Memory keeps its counts (a client blocked now stays blocked in the next outage); only
        # what was merged is marked, so the next merge sends what was counted since.
        fallback.mark_merged(batch)
    logger.info(
        "Reconciled %d counters taken in memory into the cluster (%d merged).",
        report.sent,
        report.merged,
        extra={"entries": len(entries), "merged": report.merged},
    )
    return report.sent, report.merged


def _others_closed(store: ClusterStore, scope: str) -> bool:
    prefix = f"{store.alias}/"
    return all(
        breaker.state is BreakerState.CLOSED
        for name, breaker in all_breakers().items()
        if name.startswith(prefix) and name != scope and _still_serves(store, name)
    )


def _still_serves(store: ClusterStore, scope: str) -> bool:
    """Whether the node behind ``scope`` is still a primary in the client's slot map (a master
    replaced by a failover is not: its open breaker no longer guards any key)."""
    name = scope[len(store.alias) + 1 :]
    try:
        return any(node.name == name for node in store.client.get_primaries())
    except Exception:
        return True


def _as_store_error(store: ClusterStore, exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    return store.error(exc)


__all__ = ["decide", "uses_cluster_client"]
