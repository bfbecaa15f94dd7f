"""Recovery: merge the counts memory took during an outage into Redis (``FALLBACK['RECONCILE']``).

It runs as the first part of each half-open probe (``guarded.begin``), *before* the probe's own
call, so that no request reaches Redis ahead of the counts taken while it was down: if the merge
fails, the probe fails and the counts stay in memory for the next one. It is bounded: blocked
clients go first, at most ``INLINE_ENTRIES`` counters or ``INLINE_SECONDS`` on the probe's thread
(pipelined, ``BATCH`` calls per round trip); whatever is left is merged by a background thread,
batch by batch, each batch a guarded call of its own.

Under Redis Cluster each shard's probe merges the counters of the keys that shard owns
(:func:`reconcile_node`): a shard that is still down keeps its counters in memory.

Memory keeps its counts after a merge (a client blocked during this outage stays blocked in the
next); only what was merged is marked, so the next merge sends what was counted since.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.exceptions as rexc

from django_ratelimit_guard.engine import guarded
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.stores import scripts
from django_ratelimit_guard.stores.errors import REDIS_ERRORS, store_error
from django_ratelimit_guard.stores.memory import Counted, MemoryStore

logger = logging.getLogger("django_ratelimit_guard")

BATCH = 200
INLINE_ENTRIES = 2_000
INLINE_SECONDS = 0.05
#: While the breaker is half-open the background merge waits for a probe slot this often, for at
#: most this long; an open breaker stops it (the next probe merges the rest).
WAIT_FOR_SLOT_SECONDS = 0.05
WAIT_FOR_SLOT_MAX = 30.0

#: Held while a merge runs (on a probe's thread, or handed over to the background thread).
_busy = threading.Lock()


@dataclass
class ReconcileReport:
    exported: int = 0
    merged: int = 0  # counters Redis took (the others had expired or were older than Redis's)
    sent: int = 0
    deferred: int = 0  # handed to the background thread
    failed: int = 0


def merge_args(entry: Counted) -> list[Any]:
    state = entry.state
    if isinstance(state, tuple):
        return [entry.algorithm.code, state[0], state[1], state[2], entry.window_ms]
    return [entry.algorithm.code, repr(float(state)), 0, 0, entry.window_ms]


def merge_batch(client: Any, batch: Sequence[Counted]) -> int:
    """One pipelined round trip of ``merge.lua`` calls; how many counters Redis took.

    Redis errors propagate as they are (redis-py's); the caller classifies them.
    """

    def send(entries: Sequence[Counted]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for entry in entries:
            pipe.evalsha(scripts.MERGE.sha, 1, entry.key, *merge_args(entry))
        return list(pipe.execute())

    replies = scripts.run(scripts.MERGE, send, batch, client.script_load)
    return sum(1 for reply in replies if reply == 1)


def merge(
    client: Any,
    entries: Sequence[Counted],
    report: ReconcileReport,
    *,
    deadline: float | None = None,
) -> None:
    """Merge ``entries`` in batches until done or ``deadline`` (monotonic), counting progress in
    ``report`` as it goes. Redis errors propagate; ``report.sent`` says how far it got."""
    for start in range(0, len(entries), BATCH):
        if deadline is not None and time.monotonic() >= deadline:
            break
        batch = entries[start : start + BATCH]
        report.merged += merge_batch(client, batch)
        report.sent += len(batch)


def reconcile(
    client: Any, fallback: MemoryStore, *, scope: str = "", background: bool = True
) -> ReconcileReport:
    """Merge what ``fallback`` counted and Redis has not seen; see the module docstring.

    On a Redis error a ``StoreError`` of ``scope`` is raised (the caller treats it as the probe's
    failure); what was not merged stays unmerged in memory and goes with the next probe.
    """
    report = ReconcileReport()
    if not _busy.acquire(blocking=False):
        return report  # a background merge is still running: exporting now would merge twice
    handed_over = False
    try:
        handed_over = _reconcile(client, fallback, scope, background, report)
    finally:
        if not handed_over:
            _busy.release()
    return report


def _reconcile(
    client: Any, fallback: MemoryStore, scope: str, background: bool, report: ReconcileReport
) -> bool:
    entries = fallback.export_unmerged()
    report.exported = len(entries)
    if not entries:
        return False
    inline = entries[:INLINE_ENTRIES]
    try:
        try:
            merge(client, inline, report, deadline=time.monotonic() + INLINE_SECONDS)
            if not background:
                merge(client, entries[report.sent :], report)
        finally:
            fallback.mark_merged(entries[: report.sent])
    except REDIS_ERRORS as exc:
        report.failed = len(entries) - report.sent
        raise store_error(scope, exc) from exc
    rest = entries[report.sent :]
    report.deferred = len(rest)
    if rest:
        threading.Thread(
            target=_merge_rest,
            args=(client, rest, fallback, scope),
            name="rlg-reconcile",
            daemon=True,
        ).start()
    logger.info(
        "Reconciled %d counters taken in memory into Redis (%d merged, %d in background).",
        report.sent,
        report.merged,
        report.deferred,
        extra={"entries": report.exported, "merged": report.merged, "deferred": report.deferred},
    )
    return bool(rest)


def _merge_rest(client: Any, entries: Sequence[Counted], fallback: MemoryStore, scope: str) -> None:
    """The background part: each batch a guarded call of ``scope`` (a probe while half-open)."""
    sent = 0
    try:
        while sent < len(entries):
            batch = entries[sent : sent + BATCH]
            if (
                guarded.call(scope, functools.partial(merge_batch, client, batch))
                is guarded.UNAVAILABLE
            ):
                if not _wait_for_slot(scope):
                    break
                continue
            fallback.mark_merged(batch)
            sent += len(batch)
    finally:
        _busy.release()
    if sent < len(entries):
        logger.warning(
            "Background reconciliation stopped; %d counters stay unmerged in memory until the "
            "next probe.",
            len(entries) - sent,
            extra={"entries": len(entries) - sent},
        )


def _wait_for_slot(scope: str) -> bool:
    """Whether to try again: the breaker is half-open (its probe slots were busy), not open."""
    deadline = time.monotonic() + WAIT_FOR_SLOT_MAX
    while time.monotonic() < deadline:
        state = get_breaker(scope).state
        if state is BreakerState.OPEN:
            return False
        if state is BreakerState.CLOSED:
            return True
        time.sleep(WAIT_FOR_SLOT_SECONDS)
    return False


def reconcile_node(store: Any, node: Any, fallback: MemoryStore, scope: str) -> ReconcileReport:
    """Merge the counters of the keys that one Redis Cluster node owns, through that node's own
    client (redis-py's ClusterPipeline refuses EVALSHA). Raises a StoreError of ``scope``."""
    report = ReconcileReport()
    if not _busy.acquire(blocking=False):
        return report
    try:
        client = store.client
        mine = [e for e in fallback.export_unmerged() if _owner(client, e.key) == node.name]
        report.exported = len(mine)
        if not mine:
            return report
        try:
            try:
                merge(client.get_redis_connection(node), mine, report)
            finally:
                fallback.mark_merged(mine[: report.sent])
        except REDIS_ERRORS as exc:
            report.failed = len(mine) - report.sent
            raise store_error(scope, exc) from exc
    finally:
        _busy.release()
    logger.info(
        "Reconciled %d counters taken in memory into %s (%d merged).",
        report.sent,
        scope,
        report.merged,
        extra={"entries": report.exported, "merged": report.merged, "scope": scope},
    )
    return report


def _owner(client: Any, key: str) -> str | None:
    try:
        return str(client.get_node_from_key(key).name)
    except rexc.RedisClusterException:  # an uncovered slot: nowhere to merge it
        return None


__all__ = ["ReconcileReport", "merge", "merge_args", "merge_batch", "reconcile", "reconcile_node"]
