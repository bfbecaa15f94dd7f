"""Recovery: every process notices that Redis is back within about ``HEALTH_CHECK_SECONDS``.

An open breaker lets a request probe Redis only when its open time has passed: ``RESET_TIMEOUT``
raised by every failed probe (``BACKOFF_MULTIPLIER``, up to ``MAX_RESET_TIMEOUT``) and spread by
``JITTER``. After a long or flapping outage that is tens of seconds per process, during which the
memory fallback decides and every ``closed`` policy answers 503, although Redis is already back.

So while a breaker of this process awaits its probe, a daemon thread checks its Redis on a short
fixed schedule, independent of the backoff: every ``BREAKER['HEALTH_CHECK_SECONDS']`` one
``PING`` per open scope (``stores/health.py``: a fresh connection, one attempt, the alias's socket
timeouts), classified by ``guarded.check_health``. A check answered faster than
``SLOW_CALL_SECONDS`` makes that breaker's next probe due at once
(``CircuitBreaker.health_check_passed``); the breaker still closes only through its probes — the
merge of the outage's counts first, ``HALF_OPEN_REQUESTS`` at a time, ``SUCCESS_THRESHOLD``
successes. A failing check changes nothing: no failure counted, no backoff raised, and the requests
keep their own bounded probe budget.

Cost and bounds: one thread per process, only while some breaker awaits a probe; at most one
``PING`` per open scope per interval per process, one at a time (so never more than one connection
attempt per scope in flight per process). A Redis that is still down sees ``workers x open scopes /
HEALTH_CHECK_SECONDS`` connection attempts per second — 8/s for 4 workers at the default 0.5 s.
Each process starts at a random phase of the interval, so workers don't check in lockstep.

Lifecycle: started by a breaker's transition to open (``on_transition``, subscribed to
``bus.breaker_transition`` in ``ops/install.py``), never at import; it ends when no breaker awaits
a probe (forced-open breakers are never checked). Fork-safe like ``ops/fleet_poll.py``: a child
never uses its parent's thread and starts its own at its next transition. Under ASGI servers the
checks run on this thread, never on the event loop.
"""

from __future__ import annotations

import logging
import os
import random
import threading

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.engine import decide, guarded
from django_ratelimit_guard.engine.breaker import BreakerState, CircuitBreaker
from django_ratelimit_guard.engine.breakers import all_breakers
from django_ratelimit_guard.stores.health import pinger

logger = logging.getLogger("django_ratelimit_guard")

_lock = threading.Lock()
_thread: threading.Thread | None = None
_thread_pid = 0
_thread_stop = threading.Event()  # the running thread's own: set, it ends at its next wake-up


def on_transition(scope: str, old: object, new: object, reason: str) -> None:
    """A ``bus.breaker_transition`` subscriber: a breaker that opens gets watched."""
    if new is BreakerState.OPEN or new == "open":
        watch()


def watch() -> bool:
    """Make sure this process's health-check thread runs (idempotent); False when disabled."""
    global _thread, _thread_pid, _thread_stop
    interval = guard_settings().breaker.health_check_seconds
    if interval <= 0:
        return False
    with _lock:
        if running():
            return True
        stop_event = threading.Event()
        thread = threading.Thread(
            target=_run, args=(interval, stop_event), name="rlg-recovery", daemon=True
        )
        thread.start()
        _thread, _thread_pid, _thread_stop = thread, os.getpid(), stop_event
    return True


def awaiting(breaker: CircuitBreaker) -> bool:
    """Open, not forced, its probe not yet due: a breaker the health check looks after."""
    return (
        breaker.state is BreakerState.OPEN
        and breaker.retry_after() > 0
        and not breaker.snapshot().forced
    )


def check_once() -> dict[str, str | None]:
    """One round: check every breaker that awaits a probe; scope -> None (passed) or why not."""
    outcomes: dict[str, str | None] = {}
    for scope, breaker in all_breakers().items():
        if not awaiting(breaker):
            continue
        outcome = outcomes[scope] = check_scope(scope)
        if outcome is None:
            # Aggregated: a Redis that answers PING but refuses the calls passes every check.
            logs.log(
                logger,
                logging.INFO,
                f"health_check_passed:{scope}",
                "Rate-limit store %r answers its health check again: probing it now.",
                scope,
                extra={"scope": scope, "event": "health_check_passed"},
            )
    return outcomes


def check_scope(scope: str) -> str | None:
    """Health-check one scope: None when it passed (its probe is now due), else why not."""
    alias = scope.split("/", 1)[0]
    ping = pinger(decide.redis_store(alias), scope)
    if ping is None:
        return "no health check"
    return guarded.check_health(scope, ping)


def _run(interval: float, stop_event: threading.Event) -> None:
    global _thread
    me = threading.current_thread()
    stop_event.wait(random.uniform(0, interval))  # a phase, not a secret
    while not stop_event.is_set():
        try:
            check_once()
        except Exception:  # the thread must outlive any bug; the next round retries
            logger.exception("The rate-limit store health check failed")
        stop_event.wait(interval)
        with _lock:
            # Decided under the lock watch() takes: a breaker opening now is either seen here
            # or finds this thread gone and starts another.
            if _thread is not me or stop_event.is_set():
                return
            if not any(awaiting(b) for b in all_breakers().values()):
                _thread = None
                return


def stop(timeout: float = 5.0) -> None:
    """End this process's health-check thread (tests); the next open breaker starts another."""
    global _thread
    with _lock:
        thread, _thread = _thread, None
        _thread_stop.set()
    if thread is not None and thread is not threading.current_thread() and thread.is_alive():
        thread.join(timeout)


@on_reload
def _settings_changed() -> None:
    """New tuning: the thread ends at its next wake-up (without waiting for it here); the next
    breaker to open starts one with the new interval."""
    global _thread
    with _lock:
        _thread = None
        _thread_stop.set()


def running() -> bool:
    """Whether this process's health-check thread runs (and was not told to stop)."""
    thread = _thread
    return (
        thread is not None
        and _thread_pid == os.getpid()
        and thread.is_alive()
        and not _thread_stop.is_set()
    )


def _after_fork_in_child() -> None:
    global _thread, _thread_pid, _lock, _thread_stop
    _thread, _thread_pid = None, 0
    _lock, _thread_stop = threading.Lock(), threading.Event()


if hasattr(os, "register_at_fork"):  # registering a callback starts nothing
    os.register_at_fork(after_in_child=_after_fork_in_child)


__all__ = ["awaiting", "check_once", "check_scope", "on_transition", "running", "stop", "watch"]
