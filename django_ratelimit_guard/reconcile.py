"""Recovery: merge the counts memory took during an outage into Redis (``FALLBACK['RECONCILE']``).

Runs on the thread of each half-open probe, *before* the probe's own decision, so that no
request reaches Redis ahead of the counts taken while it was down (the merge is part of the probe:
if it fails, the probe fails and the counts go back into memory). It is bounded: blocked clients go
first, at most ``INLINE_ENTRIES`` counters or ``INLINE_SECONDS`` on that thread (pipelined,
``BATCH`` calls per round trip); whatever is left is merged by a background thread.
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


def merge(
    client: Any,
    entries: Sequence[Counted],
    report: ReconcileReport,
    *,
    deadline: float | None = None,
) -> None:
    """Merge ``entries`` in pipelined batches until done or ``deadline`` (monotonic), counting
    progress in ``report`` as it goes. Redis errors propagate; ``report.sent`` says how far it
    got."""
    loaded = False
    for start in range(0, len(entries), BATCH):
        if deadline is not None and time.monotonic() >= deadline:
            break
        batch = entries[start : start + BATCH]
        replies: list[Any] = []
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
        report.sent += len(batch)
        report.merged += sum(1 for reply in replies if reply == 1)


def reconcile(client: Any, fallback: MemoryStore, *, background: bool = True) -> ReconcileReport:
    """Merge what ``fallback`` counted and Redis has not seen; see the module docstring.

    On a Redis error the error propagates (the caller treats it as the probe's failure); what was
    not merged stays unmerged in memory and goes with the next probe.
    """
    report = ReconcileReport()
    if not _busy.acquire(blocking=False):
        return report  # a background merge is still running: exporting now would merge twice
    handed_over = False
    try:
        handed_over = _reconcile(client, fallback, background, report)
    finally:
        if not handed_over:
            _busy.release()
    return report


def _reconcile(
    client: Any, fallback: MemoryStore, background: bool, report: ReconcileReport
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
    except (rexc.RedisError, OSError):
        report.failed = len(entries) - report.sent
        raise
    rest = entries[report.sent :]
    report.deferred = len(rest)
    if rest:
        threading.Thread(
            target=_merge_rest, args=(client, rest, fallback), name="rlg-reconcile", daemon=True
        ).start()
    logger.info(
        "Reconciled %d counters taken in memory into Redis (%d merged, %d in background).",
        report.sent,
        report.merged,
        report.deferred,
        extra={"entries": report.exported, "merged": report.merged, "deferred": report.deferred},
    )
    return bool(rest)


def _merge_rest(client: Any, entries: Sequence[Counted], fallback: MemoryStore) -> None:
    report = ReconcileReport()
    try:
        merge(client, entries, report)
    except (rexc.RedisError, OSError) as exc:
        logger.warning(
            "Background reconciliation stopped; %d counters stay unmerged in memory: %s",
            len(entries) - report.sent,
            exc,
            extra={"entries": len(entries) - report.sent},
        )
    finally:
        fallback.mark_merged(entries[: report.sent])
        _busy.release()
