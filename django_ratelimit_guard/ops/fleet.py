"""The fleet control channel: operator commands that reach every worker process.

Breakers and the fallback store live in each process, so an action taken in one process (the
admin page, ``manage.py ratelimit_guard``) must travel to the others. It travels through the
database — never through Redis, which may be the very thing under maintenance::

    admin page / manage.py ──issue()──► a BreakerCommand row, then applied here at once
    every process: after each decision fleet_poll.poll()  (a monotonic compare)
                   ──at most once per CONTROL['POLL_SECONDS']──► wakes its poller thread
                   poller thread ──sync()──► reads the rows it has not applied, applies them

What a process does with a command:

* ``force_open`` / ``reset`` — for a breaker scope S, the newest force-open or reset whose scope
  *covers* S (``"*"``, S itself, or S's cache alias when S is a Cluster shard ``alias/host:port``)
  decides: S stays forced open until a later covering reset closes it. Breakers created later
  (a new shard, a rebuilt registry) and processes started later obey the standing state.
* ``clear_fallback`` — empties this process's fallback store. A process started after the
  command skips it: its store was empty then.
* ``reset_client`` — an operator reset one client's counter (``scope`` is its storage key,
  ``reason`` the policy): this process drops that client's fallback entry and publishes
  ``bus.client_reset`` (what Redis last answered about it, a remembered denial included, is
  forgotten). Processes started later skip it.

:func:`sync` never raises: a database failure is logged (at most once a minute) and the process
keeps its current breaker states until a later sync succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from django.db import router, transaction
from django.db.models import Max
from django.utils import timezone as dj_timezone

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine.breaker import CircuitBreaker
from django_ratelimit_guard.engine.breakers import all_breakers
from django_ratelimit_guard.ops.models import BreakerCommand
from django_ratelimit_guard.stores.fallback import fallback_store

logger = logging.getLogger("django_ratelimit_guard")

ALL = "*"
FORCE_OPEN = "force_open"
RESET = "reset"
CLEAR_FALLBACK = "clear_fallback"
RESET_CLIENT = "reset_client"
ACTIONS = (FORCE_OPEN, RESET, CLEAR_FALLBACK, RESET_CLIENT)

#: Each sync re-reads this many ids below the highest one applied: a row whose transaction
#: committed after a higher id was already seen (concurrent issuers) is still picked up.
OVERLAP_IDS = 32
#: A failing database is logged at most once per this many seconds per process.
DB_ERROR_LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class Command:
    id: int
    scope: str
    action: str
    reason: str
    created_at: datetime
    created_by: str

    def describe(self) -> str:
        """e.g. "forced open since 05:12:07 UTC by alice: maintenance"."""
        when = self.created_at.astimezone(timezone.utc).strftime("%H:%M:%S UTC")
        by = self.created_by or "unknown"
        if self.action == FORCE_OPEN:
            return f"forced open since {when} by {by}: {self.reason or 'maintenance'}"
        if self.action == RESET:
            return f"reset at {when} by {by}"
        return f"fallback store cleared at {when} by {by}"

    def breaker_reason(self) -> str:
        return f"{self.reason or 'maintenance'} (fleet command #{self.id} by {self.created_by})"


def covers(command_scope: str, scope: str) -> bool:
    """Whether a command for ``command_scope`` applies to the breaker of ``scope``."""
    return command_scope in (ALL, scope) or scope.startswith(command_scope + "/")


class _State:
    def __init__(self) -> None:
        self.read_lock = threading.Lock()  # one database read at a time
        self.apply_lock = threading.RLock()  # a breaker listener may call back into us
        self.synced = False
        # Per command scope, the newest force_open / reset. Replaced, never mutated, so the
        # request path (a breaker created late) reads it without a lock.
        self.latest: dict[str, Command] = {}
        self.applied: set[int] = set()
        self.high = 0
        self.started = time.time()  # commands older than this predate the process
        self.error: str | None = None
        self.error_logged = float("-inf")
        self.last_sync: datetime | None = None


_state = _State()


@on_reload
def forget() -> None:
    """Forget what was applied (settings changed, tests): the next sync starts from scratch."""
    global _state
    _state = _State()


def after_fork() -> None:
    """In a forked child: fresh locks (a parent thread may have held them), same knowledge."""
    old = _state
    forget()
    _state.synced, _state.latest, _state.applied, _state.high = (
        old.synced,
        old.latest,
        set(old.applied),
        old.high,
    )


def effective(scope: str) -> Command | None:
    """The newest force_open / reset that covers ``scope``: it decides the breaker's fate."""
    best = None
    for command in _state.latest.values():
        if covers(command.scope, scope) and (best is None or command.id > best.id):
            best = command
    return best


def standing() -> list[Command]:
    """Force-open commands still in force (no later command covers their scope), oldest first."""
    latest = list(_state.latest.values())
    return sorted(
        (
            c
            for c in latest
            if c.action == FORCE_OPEN
            and not any(o.id > c.id and covers(o.scope, c.scope) for o in latest)
        ),
        key=lambda c: c.id,
    )


def last_error() -> str | None:
    return _state.error


def is_synced() -> bool:
    return _state.synced


def on_breaker_created(breaker: CircuitBreaker) -> None:
    """A ``bus.breaker_created`` subscriber: a breaker created after a force-open (new shard,
    rebuilt registry) starts forced open."""
    command = effective(breaker.scope)
    if command is not None and command.action == FORCE_OPEN:
        breaker.force_open(command.breaker_reason())


# -- reading and applying -----------------------------------------------------------------------


def sync() -> bool:
    """Apply every command this process has not applied yet. Never raises.

    Returns False when the database could not be read (the error is logged, rate-limited).
    """
    state = _state
    with state.read_lock:
        floor = max(0, state.high - OVERLAP_IDS) if state.synced else 0
        try:
            rows = _read(floor)
        except Exception as exc:  # DatabaseError, a missing table, no database at all
            _db_failed(state, exc)
            return False
    with state.apply_lock:
        _apply(state, rows)
    if state.error is not None:
        logger.info("Fleet commands are readable again.", extra={"event": "fleet_db_recovered"})
        state.error = None
    return True


def _read(floor: int) -> list[Command]:
    alias = router.db_for_read(BreakerCommand)
    rows = (
        BreakerCommand.objects.using(alias)
        .filter(id__gt=floor)
        .order_by("id")
        .values_list("id", "scope", "action", "reason", "created_at", "created_by")
    )
    return [Command(*row) for row in rows]


def _db_failed(state: _State, exc: Exception) -> None:
    state.error = f"{type(exc).__name__}: {exc}"[:300]
    now = time.monotonic()
    if now - state.error_logged >= DB_ERROR_LOG_INTERVAL:
        state.error_logged = now
        missing = any(t in state.error.lower() for t in ("no such table", "does not exist"))
        logger.error(
            "Fleet commands could not be read from the database (%s); this process keeps its "
            "breaker states and retries on its next poll.%s",
            state.error,
            " The app's tables are missing: run `manage.py migrate`." if missing else "",
            extra={"event": "fleet_db_error", "error": state.error},
        )


def _apply(state: _State, rows: list[Command]) -> None:
    first = not state.synced
    for command in rows:
        if command.id in state.applied or command.action not in ACTIONS:
            continue
        state.applied.add(command.id)
        state.high = max(state.high, command.id)
        if command.action in (FORCE_OPEN, RESET):
            previous = state.latest.get(command.scope)
            if previous is None or command.id > previous.id:
                state.latest = {**state.latest, command.scope: command}  # swap, then act
        if not first or command.created_at.timestamp() >= state.started:
            _execute(command)
    if first:
        # Commands older than this process: only their standing state matters.
        for breaker in all_breakers().values():
            if not breaker.snapshot().forced:
                on_breaker_created(breaker)
    state.applied = {i for i in state.applied if i > state.high - 4 * OVERLAP_IDS}
    state.synced = True
    state.last_sync = datetime.now(timezone.utc)


def _execute(command: Command) -> None:
    if command.action == CLEAR_FALLBACK:
        entries = fallback_store().entries
        fallback_store().clear()
        what = f"cleared the fallback store ({entries} entries)"
    elif command.action == RESET_CLIENT:
        fallback_store().reset([command.scope])
        bus.client_reset.publish(command.reason, command.scope)
        what = "forgot the client's counter and remembered answers"
    else:
        touched = []
        for scope, breaker in all_breakers().items():
            if not covers(command.scope, scope) or effective(scope) is not command:
                continue  # not ours, or a newer command already decided this scope
            if command.action == FORCE_OPEN:
                breaker.force_open(command.breaker_reason())
            else:
                breaker.reset()
            touched.append(scope)
        what = f"{command.action} on {', '.join(touched) or 'no breaker yet'}"
    logger.info(
        "Fleet command #%d (%s %s by %s) applied: %s",
        command.id,
        command.action,
        command.scope,
        command.created_by,
        what,
        extra={
            "event": "fleet_command_applied",
            "command_id": command.id,
            "action": command.action,
            "scope": command.scope,
        },
    )


# -- issuing ------------------------------------------------------------------------------------


def issue(action: str, scope: str, reason: str = "", created_by: str = "") -> Command:
    """Record a command for every process and apply it in this one at once.

    Raises ``DatabaseError`` when it could not be recorded (nothing was applied then).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown fleet action {action!r}")
    alias = router.db_for_write(BreakerCommand)
    with transaction.atomic(using=alias):
        row = BreakerCommand.objects.using(alias).create(
            scope=scope[:255],
            action=action,
            reason=reason[:255],
            created_at=dj_timezone.now(),
            created_by=created_by[:255],
        )
        prune(alias)
    sync()
    return Command(row.pk, row.scope, row.action, row.reason, row.created_at, row.created_by)


def prune(alias: str = "default", keep: int | None = None) -> None:
    """Keep the newest ``keep`` rows, and the newest force-open/reset of every scope (a worker
    started tomorrow must still find a standing force-open)."""
    keep = guard_settings().control.keep_commands if keep is None else keep
    rows = BreakerCommand.objects.using(alias)
    boundary = list(rows.order_by("-id").values_list("id", flat=True)[keep : keep + 1])
    if not boundary:
        return
    protected = list(
        rows.filter(action__in=(FORCE_OPEN, RESET))
        .order_by()
        .values("scope")
        .annotate(newest=Max("id"))
        .values_list("newest", flat=True)
    )
    rows.filter(id__lte=boundary[0]).exclude(id__in=protected).delete()


def recent(limit: int = 10) -> tuple[list[Command], str | None]:
    """The newest commands (for the status page), and an error text if the database failed."""
    try:
        rows = BreakerCommand.objects.order_by("-id").values_list(
            "id", "scope", "action", "reason", "created_at", "created_by"
        )[:limit]
        return [Command(*row) for row in rows], None
    except Exception as exc:
        return [], f"{type(exc).__name__}: {exc}"[:300]
