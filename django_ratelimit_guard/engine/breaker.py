"""Circuit breakers: one per store scope (cache alias) and per process.

::

    CLOSED ──(FAILURE_THRESHOLD consecutive failures, or failure-or-slow rate ≥ FAILURE_RATE
    │         over WINDOW_SECONDS once MIN_CALLS were seen)──► OPEN
    OPEN ──(jittered open time elapsed, or a passing health check)──► HALF_OPEN
         (force_open(): stays OPEN, without probes or health checks, until reset())
    HALF_OPEN ──(SUCCESS_THRESHOLD probe successes)──► CLOSED
    HALF_OPEN ──(a probe fails, is slow, or hangs)──► OPEN, with a longer open time (backoff)

The state lives in this process, never in the Redis it guards. The lock is held only while the
state changes — never around the Redis call — and every transition is logged and published
(``bus.breaker_transition``) after it is released. Time comes from an injectable monotonic clock;
jitter from an injectable random source. ``breakers.py`` keeps one breaker per scope.
"""

from __future__ import annotations

import itertools
import logging
import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from django_ratelimit_guard.conf.sections import BreakerSettings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine.backoff import Backoff
from django_ratelimit_guard.engine.window import CallWindow

logger = logging.getLogger("django_ratelimit_guard")


class BreakerState(str, Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


@dataclass(frozen=True)
class BreakerSnapshot:
    scope: str
    state: BreakerState
    consecutive_failures: int
    recent_failures: int
    recent_calls: int
    opened_at: float | None  # wall-clock epoch seconds
    next_probe_at: float | None  # wall-clock epoch seconds; None when closed, half-open or forced
    open_count: int
    current_reset_timeout: float
    forced: bool
    # While not closed: what opened it, (consecutive failures, failures, calls, reason) as they
    # stood then (opening clears the window, so the counts above read 0 while it is open).
    opening: tuple[int, int, int, str] | None = None


class Call:
    """Permission to make one store call. Report its outcome exactly once."""

    __slots__ = ("_breaker", "_done", "generation", "probe", "started", "token")

    def __init__(
        self, breaker: CircuitBreaker, probe: bool, generation: int, token: int, started: float
    ) -> None:
        self._breaker = breaker
        self.probe = probe
        self.generation = generation
        self.token = token
        self.started = started
        self._done = False

    def success(self, duration: float | None = None, now: float | None = None) -> None:
        """The store answered; ``duration`` (seconds) defaults to the time since acquire(),
        ``now`` to the breaker's clock (a caller that just read it passes it on)."""
        if not self._done:
            self._done = True
            self._breaker._on_success(self, duration, now)

    def failure(self, reason: str = "error") -> None:
        """The store is unavailable (connection, timeout, loading, read-only, OOM)."""
        if not self._done:
            self._done = True
            self._breaker._on_failure(self, reason)

    def release(self) -> None:
        """Neither: a local error (pool exhausted, script bug) that says nothing about Redis."""
        if not self._done:
            self._done = True
            self._breaker._on_release(self)


class CircuitBreaker:
    """The breaker of one store scope. Thread-safe; cheap to consult while closed or open."""

    def __init__(
        self,
        scope: str,
        config: BreakerSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.scope = scope
        self.config = config or BreakerSettings()
        self.clock = clock
        self._wall = wall_clock
        self._random = random
        self._lock = threading.Lock()
        self._tokens = itertools.count(1)
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._forced = False
        self._consecutive = 0
        self._window = CallWindow(self.config.window_seconds)
        self._opened_at: float | None = None
        self._opening: tuple[int, int, int, str] | None = None
        self._next_probe_at = 0.0
        self._level = 0  # backoff level: open time = RESET_TIMEOUT x MULTIPLIER^level, capped
        self._opened_since_reset = False
        self._closed_at = clock()
        self._open_count = 0
        self._probes: dict[int, float] = {}  # token -> start time of each probe in flight
        self._probe_successes = 0
        self._error_counts: dict[str, int] = {}
        self._backoff = Backoff(self.config)

    # -- consulting -------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        return self._state

    def acquire(self) -> Call | None:
        """A permission to call the store, or None: use the fallback instead.

        Closed: always. Open: never, until the open time has passed. Half-open: at most
        HALF_OPEN_REQUESTS probes at once; everyone else stays on the fallback.
        """
        state = self._state
        if state is BreakerState.CLOSED:
            return Call(self, False, self._generation, 0, self.clock())
        if self._forced:
            return None
        now = self.clock()
        if state is BreakerState.OPEN and now < self._next_probe_at:
            return None  # the hot path while open: no lock, no Redis
        events: list[tuple[BreakerState, BreakerState, str]] = []
        call: Call | None = None
        with self._lock:
            if self._state is BreakerState.OPEN and not self._forced and now >= self._next_probe_at:
                events.append(self._set_state(BreakerState.HALF_OPEN, "open time elapsed"))
                self._probes.clear()
                self._probe_successes = 0
            if self._state is BreakerState.HALF_OPEN:
                if len(self._probes) < self.config.half_open_requests:
                    token = next(self._tokens)
                    self._probes[token] = now
                    call = Call(self, True, self._generation, token, now)
                elif now - min(self._probes.values()) >= self._backoff.hung_after():
                    events.append(self._open(now, "probe hung", after_probe=True))
            elif self._state is BreakerState.CLOSED:
                call = Call(self, False, self._generation, 0, now)
        self._emit(events)
        return call

    def retry_after(self) -> float:
        """Seconds until the next probe may run (0 when closed or half-open)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        if self._forced:
            return self._backoff.timeout(self._level)
        return max(0.0, self._next_probe_at - self.clock())

    def health_check_passed(self) -> bool:
        """A health check reached Redis (``engine/recovery.py``): make an open breaker's next probe
        due now. It still closes only through its probes (merge first, SUCCESS_THRESHOLD)."""
        with self._lock:
            if self._state is not BreakerState.OPEN or self._forced:
                return False
            self._next_probe_at = min(self._next_probe_at, self.clock())
            return True

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            now = self.clock()
            wall_now = self._wall()
            self._window.trim(now)
            opened_at = next_probe = None
            if self._state is BreakerState.OPEN and self._opened_at is not None:
                opened_at = wall_now - (now - self._opened_at)
                if not self._forced:
                    next_probe = wall_now + max(0.0, self._next_probe_at - now)
            level = (
                self._backoff.decayed(self._level, now - self._closed_at)
                if self._state is BreakerState.CLOSED
                else self._level
            )
            return BreakerSnapshot(
                scope=self.scope,
                state=self._state,
                consecutive_failures=self._consecutive,
                recent_failures=self._window.bad,
                recent_calls=self._window.calls,
                opened_at=opened_at,
                next_probe_at=next_probe,
                open_count=self._open_count,
                current_reset_timeout=self._backoff.timeout(level),
                forced=self._forced,
                opening=None if self._state is BreakerState.CLOSED else self._opening,
            )

    def error_counts(self) -> dict[str, int]:
        """Store errors that did not count against Redis health ("pool", "script"), by kind."""
        return dict(self._error_counts)

    # -- operator actions -------------------------------------------------------------------

    def reset(self) -> None:
        """Force the breaker closed and forget its backoff (admin action)."""
        with self._lock:
            event = self._close(self.clock(), "reset by operator")
            self._level = 0
            self._opened_since_reset = False
        self._emit([event])

    def force_open(self, reason: str = "maintenance") -> None:
        """Open the breaker and keep it open, without probes, until reset()."""
        with self._lock:
            now = self.clock()
            event = self._set_state(BreakerState.OPEN, f"forced open: {reason}")
            self._forced = True
            self._opened_at = now
            self._opening = (0, 0, 0, f"forced open: {reason}")
            self._probes.clear()
        self._emit([event])

    # -- outcomes (called by Call) ----------------------------------------------------------

    def _on_success(self, call: Call, duration: float | None, now: float | None) -> None:
        if now is None:
            now = self.clock()
        elapsed = now - call.started if duration is None else duration
        slow = elapsed >= self.config.slow_call_seconds
        events = []
        with self._lock:
            if call.generation != self._generation:
                return  # the breaker moved on while this call ran: its news is stale
            if call.probe:
                self._probes.pop(call.token, None)
                if slow:
                    events.append(
                        self._open(now, f"slow probe ({elapsed:.3f} s)", after_probe=True)
                    )
                else:
                    self._probe_successes += 1
                    if self._probe_successes >= self.config.success_threshold:
                        events.append(self._close(now, f"{self._probe_successes} probes succeeded"))
            else:
                self._consecutive = 0
                self._window.record(now, bad=slow)
                if slow and self._window.rate_exceeded(
                    self.config.min_calls, self.config.failure_rate
                ):
                    events.append(
                        self._open(now, f"slow-call rate {self._window.bad}/{self._window.calls}")
                    )
        if events:  # almost never: this runs after every healthy Redis call
            self._emit(events)

    def _on_failure(self, call: Call, reason: str) -> None:
        now = self.clock()
        events = []
        with self._lock:
            if call.generation != self._generation:
                return
            if call.probe:
                self._probes.pop(call.token, None)
                events.append(self._open(now, f"probe failed ({reason})", after_probe=True))
            else:
                self._consecutive += 1
                self._window.record(now, bad=True)
                if self._consecutive >= self.config.failure_threshold:
                    events.append(
                        self._open(now, f"{self._consecutive} consecutive failures ({reason})")
                    )
                elif self._window.rate_exceeded(self.config.min_calls, self.config.failure_rate):
                    events.append(
                        self._open(
                            now, f"failure rate {self._window.bad}/{self._window.calls} ({reason})"
                        )
                    )
        self._emit(events)

    def _on_release(self, call: Call) -> None:
        with self._lock:
            if call.probe and call.generation == self._generation:
                self._probes.pop(call.token, None)

    def count_error(self, kind: str) -> None:
        """Count a store error that must not open the breaker ("pool", "script")."""
        with self._lock:
            self._error_counts[kind] = self._error_counts.get(kind, 0) + 1

    # -- transitions (called with the lock held) --------------------------------------------

    def _set_state(self, new: BreakerState, reason: str) -> tuple[BreakerState, BreakerState, str]:
        old = self._state
        self._state = new
        self._generation += 1
        return old, new, reason

    def _open(
        self, now: float, reason: str, *, after_probe: bool = False
    ) -> tuple[BreakerState, BreakerState, str]:
        if after_probe:
            level = self._level + 1  # the outage goes on: wait longer before the next probe
        else:
            level = self._backoff.decayed(self._level, now - self._closed_at)
            if self._opened_since_reset and now - self._closed_at < self._backoff.healthy_period(
                level
            ):
                level += 1  # re-opened soon after closing: flapping, back off further
        self._level = min(level, self._backoff.max_level)
        timeout = self._backoff.timeout(self._level)
        jitter = self.config.jitter * (2.0 * self._random() - 1.0)
        open_for = min(self.config.max_reset_timeout, max(0.001, timeout * (1.0 + jitter)))
        self._opened_at = now
        self._next_probe_at = now + open_for
        self._open_count += 1
        self._opened_since_reset = True
        self._probes.clear()
        self._probe_successes = 0
        self._opening = (self._consecutive, self._window.bad, self._window.calls, reason)
        self._consecutive = 0
        self._window.clear()
        return self._set_state(BreakerState.OPEN, f"{reason}; next probe in {open_for:.3f} s")

    def _close(self, now: float, reason: str) -> tuple[BreakerState, BreakerState, str]:
        self._forced = False
        self._closed_at = now
        self._opened_at = None
        self._probes.clear()
        self._probe_successes = 0
        self._consecutive = 0
        self._window.clear()
        return self._set_state(BreakerState.CLOSED, reason)

    def _emit(self, events: list[tuple[BreakerState, BreakerState, str]]) -> None:
        for old, new, reason in events:
            if old is new:
                continue
            level = logging.WARNING if new is BreakerState.OPEN else logging.INFO
            logger.log(
                level,
                "Rate-limit store breaker %r: %s -> %s (%s)",
                self.scope,
                old.value,
                new.value,
                reason,
                extra={
                    "scope": self.scope,
                    "old_state": old.value,
                    "new_state": new.value,
                    "reason": reason,
                },
            )
            bus.breaker_transition.publish(self.scope, old, new, reason)


__all__ = ["BreakerSnapshot", "BreakerState", "Call", "CircuitBreaker"]
