"""The request path's side of the fleet channel (``fleet.py``): a poller thread per process.

:func:`poll` runs after every decision (``on_decided`` subscribes to ``bus.decided``). It costs one
``time.monotonic()`` and a compare; at most once per ``CONTROL['POLL_SECONDS']`` it wakes this
process's poller thread, which reads the database and applies new commands. So no request thread and
no event loop ever waits on the database. Once started, the thread also polls every interval while
the process is idle (issue #15: a runtime override must reach a worker before its next request),
and writes this process's report for the fleet-wide view (``reports.py``): an idle process issues
a command and rule read every interval and a heartbeat write every ``reports.HEARTBEAT_SECONDS``.

The thread starts lazily, at the first decision of each process — never at import, so a gunicorn
master that preloads the app forks workers without a thread (threads don't survive ``fork``; a child
notices the parent's thread is not its own and starts one).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from typing import Any

from django.db import close_old_connections, router, transaction

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.ops import events, fleet, overrides, reports
from django_ratelimit_guard.ops.models import ProcessReport

logger = logging.getLogger("django_ratelimit_guard")

_clock = time.monotonic  # injectable for tests
_next_poll = 0.0  # monotonic time of the next wake-up; 0.0: at the first decision
_thread: threading.Thread | None = None
_thread_pid = 0
_wake = threading.Event()
_start_lock = threading.Lock()


def poll() -> None:
    """The hot path: nothing but a clock read and a compare, except once per poll interval."""
    if _clock() >= _next_poll:
        _due()


def on_decided(request: Any, result: Any) -> None:
    """A ``bus.decided`` subscriber: every decision of this process keeps the channel polled."""
    if _clock() >= _next_poll:
        _due()


def on_transition(scope: str, old: Any, new: Any, reason: str) -> None:
    """A ``bus.breaker_transition`` subscriber: report the new state for the fleet view at once
    (``reports.py``), not at the next heartbeat. Transitions are rare; no request waits."""
    if thread_alive():
        _wake.set()


def _due() -> None:
    global _next_poll
    interval = guard_settings().control.poll_seconds
    if interval <= 0:
        _next_poll = math.inf  # disabled: commands apply only where they are issued
        return
    _next_poll = _clock() + interval
    thread = _thread
    if thread is None or _thread_pid != os.getpid() or not thread.is_alive():
        _start()
    _wake.set()


def _start() -> None:
    global _thread, _thread_pid
    with _start_lock:
        if _thread is not None and _thread_pid == os.getpid() and _thread.is_alive():
            return
        thread = threading.Thread(target=_run, args=(_wake,), name="rlg-fleet-poll", daemon=True)
        thread.start()
        _thread, _thread_pid = thread, os.getpid()


def _run(wake: threading.Event) -> None:
    wait = reports.HEARTBEAT_SECONDS
    while True:
        # Woken by a decision at most once per POLL_SECONDS, by a breaker transition, when this
        # process's report for the fleet view is due, and every interval while idle, so that a
        # runtime rule reaches an idle worker before its next request (issue #15).
        interval = _interval()
        wake.wait(wait if interval is None else min(wait, interval))
        wake.clear()
        wait = reports.HEARTBEAT_SECONDS
        try:
            fleet.sync()
            overrides.sync()  # issue #15: runtime overrides, read in the same poll
            # One commit: the transitions the commands caused (written from this safe place)
            # and this process's report for the fleet view (its breakers and fallback fill).
            with transaction.atomic(using=router.db_for_write(ProcessReport)):
                events.flush()
                wait = reports.heartbeat()
        except Exception:  # the poller must outlive any bug; the next wake-up retries
            logger.exception("The fleet command poller failed", extra={"event": "fleet_poll_error"})
        finally:
            # This thread's own connection: kept per CONN_MAX_AGE, closed if broken. (It may
            # raise too, e.g. where a test runner forbids database access.)
            with contextlib.suppress(Exception):
                close_old_connections()


def _interval() -> float | None:
    try:
        return guard_settings().control.poll_seconds or None
    except Exception:  # settings being replaced: wait for the next wake-up
        return None


def _after_fork_in_child() -> None:
    global _thread, _thread_pid, _wake, _start_lock, _next_poll
    _thread, _thread_pid = None, 0
    _wake, _start_lock = threading.Event(), threading.Lock()
    _next_poll = 0.0  # sync at the child's first decision
    fleet.after_fork()


@on_reload
def _rearm() -> None:
    global _next_poll
    _next_poll = 0.0


def thread_alive() -> bool:
    thread = _thread
    return thread is not None and _thread_pid == os.getpid() and thread.is_alive()


if hasattr(os, "register_at_fork"):  # registering a callback starts nothing
    os.register_at_fork(after_in_child=_after_fork_in_child)
