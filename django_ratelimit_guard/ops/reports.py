"""The fleet-wide view: every live process reports its breaker states and fallback fill.

Breakers and the fallback store live in each worker process; the admin page and ``manage.py
ratelimit_guard status`` are served by one process. So each process writes a *heartbeat* — one
``ProcessReport`` row per host and pid — through the database, the control channel that works
when Redis does not (``fleet.py``)::

    fleet poller thread (fleet_poll.py), after each sync ──heartbeat()──► its ProcessReport row
        written when the report changed (a breaker moved, the fallback fill changed), in the
        same commit as the process's breaker events, and at least every HEARTBEAT_SECONDS
    status page / status command ──live()──► every row seen in the last LIVE_SECONDS

A process reports from its first decision on (that starts its poller thread), and not at all
while ``CONTROL['POLL_SECONDS']`` is 0. The table stays small: a process that has not been seen for
``PRUNE_SECONDS`` is deleted (by any live process's heartbeat), and at most ``MAX_ROWS`` rows are
kept. :func:`heartbeat` never raises: a database failure is what ``fleet.sync`` already logs.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from django.db import router, transaction

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.engine.breakers import all_breakers, get_breaker
from django_ratelimit_guard.ops.models import ProcessReport
from django_ratelimit_guard.stores.fallback import fallback_store

#: An idle process (no decision, so no poll) still writes its row this often.
HEARTBEAT_SECONDS = 10.0
#: A process whose row is older than this is not listed as live (three missed heartbeats).
LIVE_SECONDS = 3 * HEARTBEAT_SECONDS
#: Rows of processes not seen for this long are deleted.
PRUNE_SECONDS = 600.0
#: And never more rows than this (the newest are kept): a crash-looping fleet stays bounded.
MAX_ROWS = 1000


def _epoch(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc).isoformat()


def breaker_report(snapshot: Any) -> dict[str, Any]:
    """One breaker, as reported: while not closed, its failure figures are those that opened it
    (opening clears its window, so the live counts would read 0 / 0)."""
    opening = snapshot.opening
    consecutive, failures, calls = (
        (snapshot.consecutive_failures, snapshot.recent_failures, snapshot.recent_calls)
        if opening is None
        else opening[:3]
    )
    return {
        "scope": snapshot.scope,
        "state": snapshot.state.value,
        "forced": snapshot.forced,
        "consecutive_failures": consecutive,
        "recent_failures": failures,
        "recent_calls": calls,
        "opened_by": "" if opening is None else opening[3],
        "opened_at": _epoch(snapshot.opened_at),
        "next_probe_at": _epoch(snapshot.next_probe_at),
        "open_count": snapshot.open_count,
    }


def local_report() -> dict[str, Any]:
    """This process's breakers (the configured alias always has one) and fallback fill."""
    breakers = all_breakers()
    alias = guard_settings().cache_alias
    if alias not in breakers:
        breakers[alias] = get_breaker(alias)
    store = fallback_store()
    return {
        "breakers": [breaker_report(breakers[s].snapshot()) for s in sorted(breakers)],
        "fallback": {
            "entries": store.live_entries(),
            "capacity": store.capacity,
            "evictions": dict(store.evictions),
        },
    }


def _fingerprint(report: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a report worth writing before the heartbeat is due."""
    return (
        tuple((b["scope"], b["state"], b["open_count"]) for b in report["breakers"]),
        report["fallback"]["entries"],
    )


class _State:
    def __init__(self) -> None:
        self.started = datetime.now(timezone.utc)
        self.written_at = float("-inf")  # monotonic
        self.written: tuple[Any, ...] | None = None
        self.pruned_at = float("-inf")


_state = _State()
_host = socket.gethostname()


@on_reload
def _forget() -> None:
    _state.written = None  # write at the next heartbeat


def heartbeat(*, force: bool = False) -> float:
    """Write this process's report if it changed (a breaker moved, the fallback fill changed)
    or ``HEARTBEAT_SECONDS`` passed since the last write; at once with ``force``. Returns the
    seconds until it is due again (the poller thread waits that long at most). Never raises:
    a database failure is what ``fleet.sync`` already logs; the next heartbeat tries again.

    The poller calls it in the transaction that writes this process's breaker events, so a
    transition costs one commit, as it did before reports existed (fleet_poll.py)."""
    report = local_report()
    now = time.monotonic()
    mark = _fingerprint(report)
    since = now - _state.written_at
    if not force and mark == _state.written and since < HEARTBEAT_SECONDS:
        return HEARTBEAT_SECONDS - since
    try:
        with transaction.atomic(using=router.db_for_write(ProcessReport)):
            _write(report)
            if now - _state.pruned_at >= 60.0:
                prune()
                _state.pruned_at = now
    except Exception:  # a missing table, a database outage: fleet.sync logs those
        return HEARTBEAT_SECONDS
    _state.written, _state.written_at = mark, now
    return HEARTBEAT_SECONDS


def _write(report: dict[str, Any]) -> None:
    # One UPDATE (an INSERT the first time): no read before the write, which on SQLite would
    # hold a shared lock while waiting to write, beside the other workers' polls.
    rows = ProcessReport.objects.using(router.db_for_write(ProcessReport))
    values = {"seen_at": datetime.now(timezone.utc), "report": json.dumps(report)}
    if not rows.filter(host=_host[:255], pid=os.getpid()).update(**values):
        rows.create(host=_host[:255], pid=os.getpid(), started_at=_state.started, **values)


def prune(now: datetime | None = None) -> None:
    """Delete the rows of processes not seen for ``PRUNE_SECONDS``; keep at most ``MAX_ROWS``."""
    now = now or datetime.now(timezone.utc)
    rows = ProcessReport.objects.using(router.db_for_write(ProcessReport))
    rows.filter(seen_at__lt=now - timedelta(seconds=PRUNE_SECONDS)).delete()
    boundary = list(rows.order_by("-seen_at").values_list("seen_at", flat=True)[MAX_ROWS:][:1])
    if boundary:
        rows.filter(seen_at__lte=boundary[0]).delete()


@dataclass
class ProcessRow:
    """One live process, as the status page and ``status --json`` show it."""

    host: str
    pid: int
    this_process: bool
    seen_at: datetime
    seen_seconds_ago: float
    started_at: datetime
    breakers: list[dict[str, Any]] = field(default_factory=list)
    fallback_entries: int = 0
    fallback_capacity: int = 0
    fallback_evictions: dict[str, int] = field(default_factory=dict)

    @property
    def fill_percent(self) -> float:
        if not self.fallback_capacity:
            return 0.0
        return round(100 * self.fallback_entries / self.fallback_capacity, 1)

    @property
    def open_scopes(self) -> list[str]:
        return [b["scope"] for b in self.breakers if b["state"] != "closed"]


def live(now: datetime | None = None) -> tuple[list[ProcessRow], str | None]:
    """Every process seen in the last ``LIVE_SECONDS`` (this one first), and an error text if
    the database could not be read."""
    now = now or datetime.now(timezone.utc)
    try:
        rows = list(
            ProcessReport.objects.filter(
                seen_at__gte=now - timedelta(seconds=LIVE_SECONDS)
            ).values_list("host", "pid", "seen_at", "started_at", "report")
        )
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"[:300]
    processes = []
    for host, pid, seen_at, started_at, text in rows:
        try:
            report = json.loads(text)
        except ValueError:
            report = {}
        fallback = report.get("fallback", {})
        processes.append(
            ProcessRow(
                host=host,
                pid=pid,
                this_process=(host, pid) == (_host[:255], os.getpid()),
                seen_at=seen_at,
                seen_seconds_ago=round(max(0.0, (now - seen_at).total_seconds()), 1),
                started_at=started_at,
                breakers=list(report.get("breakers", [])),
                fallback_entries=int(fallback.get("entries", 0)),
                fallback_capacity=int(fallback.get("capacity", 0)),
                fallback_evictions=dict(fallback.get("evictions", {})),
            )
        )
    processes.sort(key=lambda p: (not p.this_process, p.host, p.pid))
    return processes, None


__all__ = [
    "HEARTBEAT_SECONDS",
    "LIVE_SECONDS",
    "MAX_ROWS",
    "PRUNE_SECONDS",
    "ProcessRow",
    "breaker_report",
    "heartbeat",
    "live",
    "local_report",
    "prune",
]
