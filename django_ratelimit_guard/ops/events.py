"""Breaker transitions: logged, counted, and persisted as :class:`BreakerEvent` rows.

:func:`on_transition` subscribes to ``bus.breaker_transition``: it runs right after a breaker
changes state, on a request's thread, possibly inside the request's ``transaction.atomic``. So it
does no I/O: it updates the metrics and queues the event (the breaker logs the transition itself).
The queue is written to the database later, at a safe point: when a request finishes
(``request_finished``), when the status page or the ``ratelimit_guard`` command runs, or on an
explicit :func:`flush`. A write runs in its own savepoint when the connection is inside an atomic
block, so a database failure rolls back only the event, never poisons the caller's transaction, and
never breaks a request: it is logged and the events are dropped (the breaker's log line and the
metric still record it).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.core.signals import request_finished
from django.db import DatabaseError, connections, router, transaction

from django_ratelimit_guard.ops import metrics
from django_ratelimit_guard.ops.models import BreakerEvent

logger = logging.getLogger("django_ratelimit_guard")

#: Rows kept in the table; older ones are deleted after each write.
KEEP_EVENTS = 500
#: Events queued in one process between flushes (a flapping breaker must not grow memory).
MAX_PENDING = 200

HOST = socket.gethostname()[:255]


@dataclass(frozen=True)
class PendingEvent:
    time: datetime
    pid: int
    scope: str
    from_state: str
    to_state: str
    reason: str


_pending: deque[PendingEvent] = deque(maxlen=MAX_PENDING)
# Only one thread writes at a time; others leave their events for it (never waiting on the DB).
_flushing = threading.Lock()


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state))


def on_transition(scope: str, old: Any, new: Any, reason: str = "") -> None:
    """A ``bus.breaker_transition`` subscriber: the metrics and a queued event. No I/O, no lock
    of ours. The breaker itself writes the log line."""
    old_name, new_name = _state_name(old), _state_name(new)
    metrics.observe_transition(scope, old_name, new_name)
    _pending.append(
        PendingEvent(
            datetime.now(timezone.utc), os.getpid(), scope[:255], old_name, new_name, reason[:255]
        )
    )


def pending_count() -> int:
    return len(_pending)


def flush() -> int:
    """Write the queued events; returns how many were written. Never raises."""
    if not _pending or not _flushing.acquire(blocking=False):
        return 0
    try:
        batch: list[PendingEvent] = []
        while _pending:
            batch.append(_pending.popleft())
        return _write(batch)
    finally:
        _flushing.release()


def _write(batch: list[PendingEvent]) -> int:
    alias = router.db_for_write(BreakerEvent)
    connection = connections[alias]
    try:
        # A savepoint inside someone else's atomic block, a transaction of its own outside one.
        with transaction.atomic(using=alias):
            BreakerEvent.objects.db_manager(alias).bulk_create(
                BreakerEvent(
                    time=e.time,
                    host=HOST,
                    pid=e.pid,
                    scope=e.scope,
                    from_state=e.from_state,
                    to_state=e.to_state,
                    reason=e.reason,
                )
                for e in batch
            )
            prune(alias)
    except Exception as exc:  # DatabaseError, or no database at all: never the caller's problem
        logger.error(
            "Could not persist %d breaker event(s): %s",
            len(batch),
            exc,
            extra={"event": "breaker_event_write_failed", "count": len(batch)},
        )
        return 0
    finally:
        _close_if_idle(connection)
    return len(batch)


def _close_if_idle(connection: Any) -> None:
    # After request_finished nobody else would close a connection we opened.
    try:
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
    except Exception:  # noqa: S110 - closing is best effort
        pass


def prune(alias: str = "default", keep: int = KEEP_EVENTS) -> None:
    newest = BreakerEvent.objects.using(alias).order_by("-id").values_list("id", flat=True)
    boundary = list(newest[keep : keep + 1])
    if boundary:
        BreakerEvent.objects.using(alias).filter(id__lte=boundary[0]).delete()


def recent(limit: int = 50) -> tuple[list[Any], str | None]:
    """The newest persisted events of every process, and an error text if the DB failed."""
    flush()
    try:
        return list(BreakerEvent.objects.all()[:limit]), None
    except DatabaseError as exc:
        return [], str(exc)


def _flush_after_request(**kwargs: object) -> None:
    if _pending:
        flush()


def install() -> None:
    request_finished.connect(
        _flush_after_request, dispatch_uid="django_ratelimit_guard.events.flush"
    )
