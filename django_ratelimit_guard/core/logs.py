"""Log lines a client can cause, aggregated: at most one line per kind and interval, with counts.

Every log call on the request path goes through :func:`log` (refused signatures, malformed client
addresses, rate or cost callables that misbehave, local store errors, the summaries of our own
429/503 responses), so that an attacker sending N hostile requests produces a bounded number of
lines, not N::

    logs.log(logger, logging.WARNING, "signature:skew", "Refused request signature ...", *args)

* The **first** occurrence of a kind is logged at once, as written (with ``extra`` fields
  ``log_kind``, ``suppressed`` — how many occurrences the previous line of this kind left unsaid —
  and ``interval``).
* Further occurrences within ``INTERVAL`` seconds are only counted. When the interval ends, one
  summary line reports them: ``"<the last message> [and N more like this in the last 10 s]"``,
  written by a small daemon thread (started on demand, ended when nothing is pending, fork-safe),
  so a flood that stops still has its count reported.
* A flood that goes on therefore writes one line per kind per interval.

A *kind* is a short string chosen by the code (``"signature:skew"``, ``"rejected:503:login"``),
never client data, so the table of kinds stays as small as the code's set of messages. The
messages themselves may carry client data (a path, an address), as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: Seconds per kind between two lines (documented in docs/operations.md, "Logging").
INTERVAL = 10.0


@dataclass
class _Pending:
    until: float  # the end of this kind's current interval (monotonic)
    suppressed: int = 0  # occurrences counted, not logged, in this interval
    logger: logging.Logger | None = None
    level: int = logging.INFO
    msg: str = ""
    args: tuple[Any, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


class Aggregator:
    """Kinds -> their current interval. Thread-safe; a lock only around the table."""

    def __init__(
        self,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        *,
        background: bool = True,
    ) -> None:
        self.interval = interval
        self.clock = clock
        #: Whether a thread writes the summaries when intervals end (False: only ``flush()``,
        #: for tests that drive an injected clock).
        self.background = background
        self._kinds: dict[tuple[str, str], _Pending] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._thread_pid = 0

    def log(
        self,
        logger: logging.Logger,
        level: int,
        kind: str,
        msg: str,
        *args: Any,
        extra: Mapping[str, Any] | None = None,
        exc_info: bool = False,
    ) -> bool:
        """Log ``msg % args`` now if ``kind`` is due, else count it. True when logged now.
        ``exc_info`` goes with the line written now (summaries carry no traceback)."""
        now = self.clock()
        key = (logger.name, kind)
        with self._lock:
            pending = self._kinds.get(key)
            if pending is None or now >= pending.until:
                # A count the summary thread did not write yet rides on this line instead.
                carried = pending.suppressed if pending is not None else 0
                self._kinds[key] = _Pending(now + self.interval)
                due = True
            else:
                pending.suppressed += 1
                pending.logger, pending.level, pending.msg = logger, level, msg
                pending.args, pending.extra = args, extra or {}
                if self.background:
                    self._ensure_flusher()
                due = False
        if due:
            fields = {**(extra or {}), "log_kind": kind, "suppressed": carried}
            fields["interval"] = self.interval
            if carried:
                msg += " [%d more like this before]"
                args = (*args, carried)
            logger.log(level, msg, *args, extra=fields, exc_info=exc_info)
        return due

    def flush(self, *, everything: bool = False) -> int:
        """Write the summary line of every kind whose interval has ended (or of every kind with
        a count, ``everything=True``); returns how many lines were written."""
        now = self.clock()
        lines: list[tuple[str, _Pending]] = []
        with self._lock:
            for key, pending in list(self._kinds.items()):
                if not pending.suppressed or (now < pending.until and not everything):
                    continue
                lines.append((key[1], pending))
                # A new interval starts with the summary: a flood that goes on writes one line
                # per interval, a flood that stopped gets this line and nothing more.
                self._kinds[key] = _Pending(now + self.interval)
        for kind, pending in lines:
            assert pending.logger is not None
            fields = {**pending.extra, "log_kind": kind, "suppressed": pending.suppressed}
            fields["interval"] = self.interval
            pending.logger.log(
                pending.level,
                pending.msg + " [and %d more like this in the last %g s]",
                *pending.args,
                pending.suppressed,
                self.interval,
                extra=fields,
            )
        return len(lines)

    def pending(self) -> int:
        """Occurrences counted and not yet reported, over every kind."""
        with self._lock:
            return sum(p.suppressed for p in self._kinds.values())

    def reset(self) -> None:
        """Forget every kind (tests)."""
        with self._lock:
            self._kinds.clear()

    # -- the flusher thread ---------------------------------------------------------------------

    def _ensure_flusher(self) -> None:
        """Called with the lock held, when a count was added."""
        thread = self._thread
        if thread is not None and self._thread_pid == os.getpid() and thread.is_alive():
            return
        thread = threading.Thread(target=self._run, name="rlg-log-summary", daemon=True)
        self._thread, self._thread_pid = thread, os.getpid()
        thread.start()

    def _next_due(self) -> float | None:
        dues = [p.until for p in self._kinds.values() if p.suppressed]
        return min(dues) if dues else None

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                due = self._next_due()
                if due is None or self._thread is not me:
                    if self._thread is me:
                        self._thread = None
                    return
                wait = due - self.clock()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
            self.flush()

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread, self._thread_pid = None, 0


R = TypeVar("R")


def already_logged(response: R) -> R:
    """Mark one of our own responses (a 429, a closed-mode 503, a refused signature) as logged,
    so that ``django.request`` does not log it again, one line per request: Django's
    ``log_response`` (4.2, 5.2, 6.x) skips a response whose ``_has_been_logged`` is true. Our own
    aggregated line about it is written through :func:`log` instead."""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


#: The process's aggregator: every layer logs its request-path lines through it.
aggregator = Aggregator()


def log(
    logger: logging.Logger,
    level: int,
    kind: str,
    msg: str,
    *args: Any,
    extra: Mapping[str, Any] | None = None,
    exc_info: bool = False,
) -> bool:
    """``logger.log(level, msg, *args)`` at most once per ``kind`` and interval; the rest is
    counted and reported in one summary line. True when this call wrote its line."""
    return aggregator.log(logger, level, kind, msg, *args, extra=extra, exc_info=exc_info)


if hasattr(os, "register_at_fork"):  # registering a callback starts nothing
    os.register_at_fork(after_in_child=aggregator.after_fork_in_child)


__all__ = ["INTERVAL", "Aggregator", "aggregator", "already_logged", "log"]
