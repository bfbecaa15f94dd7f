"""Recovery: merge the counts taken in memory during an outage into Redis (``FALLBACK['RECONCILE']``).

Runs on the thread of the probe whose success closes the breaker, *before* the breaker closes,
so no request reaches Redis ahead of the merge. It is bounded: blocked clients go first, at most
``INLINE_ENTRIES`` counters or ``INLINE_SECONDS`` on that thread (pipelined, ``BATCH`` calls per
round trip); whatever is left is merged by a background thread, never by a waiting request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis.exceptions as rexc

from django_ratelimit_guard.stores.memory import Counted, MemoryStore

logger = logging.getLogger("django_ratelimit_guard")

MERGE_LUA = resources.files("django_ratelimit_guard.stores").joinpath("lua/merge.lua").read_text()
MERGE_SHA = hashlib.sha1(MERGE_LUA.encode(), usedforsecurity=False).hexdigest()

BATCH = 200
INLINE_ENTRIES = 2_000
INLINE_SECONDS = 0.05


@dataclass
class ReconcileReport:
    drained: int = 0
    merged: int = 0  # counters Redis took (the others had expired or were older than Redis's)
    sent: int = 0
    deferred: int = 0  # handed to the background thread
    failed: int = 0


def merge_args(entry: Counted) -> list[Any]:
    state = entry.state
    if isinstance(state, tuple):
        return [entry.algorithm.code, state[0], state[1], state[2], entry.window_ms]
    return [entry.algorithm.code, repr(float(state)), 0, 0, entry.window_ms]


def merge(client: Any, entries: Sequence[Counted], *, deadline: float | None = None) -> tuple[int, int]:
    """Merge ``entries`` in pipelined batches until done or ``deadline`` (monotonic); return
    (sent, merged). Redis errors propagate; the caller decides what is lost."""
    sent = merged = 0
    loaded = False
    for start in range(0, len(entries), BATCH):
        if deadline is not None and time.monotonic() >= deadline:
            break
        batch = entries[start:start + BATCH]
        for attempt in (1, 2):
            pipe = client.pipeline(transaction=False)
            for entry in batch:
                pipe.evalsha(MERGE_SHA, 1, entry.key, *merge_args(entry))
            try:
                replies = pipe.execute()
            except rexc.NoScriptError:
                if attempt == 2 or loaded:
                    raise
                client.script_load(MERGE_LUA)
                loaded = True
                continue
            break
        sent += len(batch)
        merged += sum(1 for reply in replies if reply == 1)
    return sent, merged


def reconcile(client: Any, fallback: MemoryStore, *, background: bool = True) -> ReconcileReport:
    """Drain ``fallback`` into the Redis behind ``client``; see the module docstring."""
    report = ReconcileReport()
    entries = fallback.drain()
    report.drained = len(entries)
    if not entries:
        return report
    inline = entries[:INLINE_ENTRIES]
    try:
        report.sent, report.merged = merge(client, inline, deadline=time.monotonic() + INLINE_SECONDS)
    except (rexc.RedisError, OSError) as exc:
        report.failed = len(entries)
        logger.warning("Reconciliation failed; %d counters taken in memory were not merged: %s",
                       len(entries), exc, extra={"entries": len(entries)})
        return report
    rest = entries[report.sent:]
    report.deferred = len(rest)
    if rest and background:
        threading.Thread(target=_merge_rest, args=(client, rest), name="rlg-reconcile", daemon=True).start()
    elif rest:
        sent, merged = merge(client, rest)
        report.sent += sent
        report.merged += merged
        report.deferred = 0
    logger.info("Reconciled %d counters taken in memory into Redis (%d merged, %d in background).",
                report.sent, report.merged, report.deferred,
                extra={"entries": report.drained, "merged": report.merged, "deferred": report.deferred})
    return report


def _merge_rest(client: Any, entries: Sequence[Counted]) -> None:
    try:
        merge(client, entries)
    except (rexc.RedisError, OSError) as exc:
        logger.warning("Background reconciliation stopped; %d counters were not merged: %s",
                       len(entries), exc, extra={"entries": len(entries)})
