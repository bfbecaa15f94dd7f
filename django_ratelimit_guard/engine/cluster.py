"""Decisions under Redis Cluster: one breaker per shard, so a dead shard degrades only its keys.

``decide.decide`` hands a cluster alias's hits here. They are routed to the primaries that own
them (``stores/cluster.py``); each shard's breaker scope ``<alias>/<host:port>`` is consulted on
its own through the guarded-call protocol (``guarded.py``): shards whose breaker permits are
called concurrently, the rest — and any shard whose call fails — go to the fail modes of their
policies, as for a single Redis. A shard's half-open probe first merges the counts that memory
took for the keys that shard owns (``reconcile.reconcile_node``).

When a replica takes over a dead master's slots, the keys route to the new node's scope (its
breaker closed) as soon as the client re-reads the slot map — on the next failed call or on the
half-open probe of the dead node's scope, which redis-py redirects to the new primary.
"""

from __future__ import annotations

from collections.abc import Sequence

from django_ratelimit_guard.core.algorithms import Verdict
from django_ratelimit_guard.core.decisions import Source
from django_ratelimit_guard.engine import guarded, reconcile
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.engine.failmodes import fail_modes
from django_ratelimit_guard.engine.plan import PlannedHit
from django_ratelimit_guard.stores.answers import AnswerMemory
from django_ratelimit_guard.stores.cluster import ClusterStore, ShardBatch
from django_ratelimit_guard.stores.fallback import fallback_store


def decide(
    store: ClusterStore,
    planned: Sequence[PlannedHit],
    count: bool,
    memory: AnswerMemory | None = None,
    at: float = 0.0,
) -> list[tuple[Verdict, Source]]:
    """Decide ``planned`` shard by shard; each shard's answer is remembered in ``memory`` (read
    at ``at``, before anything was sent) like a single Redis's (``local.py``)."""
    hits = [p.hit for p in planned]
    generation = 0 if memory is None else memory.generation
    try:
        batches = store.route(hits)
    except Exception as exc:  # the cluster could not be mapped at all: the alias-wide scope
        attempt = guarded.begin(store.scope)
        if attempt is not None:
            attempt.failed(exc)
        return fail_modes(planned, count, get_breaker(store.scope).retry_after())
    out: list[tuple[Verdict, Source] | None] = [None] * len(planned)
    permitted: list[tuple[ShardBatch, guarded.Attempt]] = []
    refused: list[ShardBatch] = []
    for batch in batches:
        attempt = guarded.begin(batch.scope, _merge_node(store, batch))
        if attempt is None:
            refused.append(batch)
        else:
            permitted.append((batch, attempt))
    outcomes = store.run(hits, [batch for batch, _ in permitted], count=count)
    for (batch, attempt), outcome in zip(permitted, outcomes, strict=True):
        if outcome.error is not None:
            attempt.failed(outcome.error)
            refused.append(batch)
            continue
        attempt.succeeded(outcome.duration)
        assert outcome.verdicts is not None
        for i, verdict in outcome.verdicts.items():
            out[i] = (verdict, "redis")
        if memory is not None:
            answered = list(outcome.verdicts)
            memory.remember(
                [hits[i] for i in answered], list(outcome.verdicts.values()), at, generation
            )
    for batch in refused:
        # All or nothing per shard: a "closed" policy denying here stops this shard's memory counts.
        indices = batch.indices
        decided = fail_modes(
            [planned[i] for i in indices], count, get_breaker(batch.scope).retry_after()
        )
        for i, item in zip(indices, decided, strict=True):
            out[i] = item
    return [item for item in out if item is not None]


def _merge_node(store: ClusterStore, batch: ShardBatch) -> guarded.Merge | None:
    node = batch.node
    if node is None:
        return None
    return lambda: reconcile.reconcile_node(store, node, fallback_store(), batch.scope)


__all__ = ["decide"]
