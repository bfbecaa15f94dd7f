"""The guarded call: the one way the package talks to Redis.

Every Redis use — sync and async decisions, each Redis Cluster shard, nonce claims, the
most-limited-clients table, the background merge — goes through here::

    attempt = begin(scope, merge)        # None: the scope's breaker refuses: the caller's fallback
    try:
        value = <the store call>
    except StoreError as exc:
        attempt.failed(exc)              # -> the caller's fallback
    else:
        attempt.succeeded()

1. **Acquire** the breaker of the store scope (closed: always; open: never; half-open: a bounded
   number of probes).
2. **Merge before a probe**: a half-open probe is the first call to reach Redis after an outage;
   when ``FALLBACK['RECONCILE']`` is on, the counts taken in memory meanwhile reach Redis first
   (``merge``), so that no request — not even the probe — gets a fresh budget. A failed merge is
   the probe's failure.
3. **Time** the call (from after the merge) and publish it (``bus.store_latency``).
4. **Report** success or failure to the breaker, with one error classification
   (``stores/errors.py``): outages count against Redis, local errors (pool exhausted, a refused
   script) only get counted and logged (``bus.store_error``).

The caller then falls back as its own rules say: the fail modes of its policies (``failmodes.py``),
``SIGNING['FAIL_MODE']`` for nonces, or nothing at all for statistics. :func:`call` and
:func:`acall` run the whole protocol around one callable.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from asgiref.sync import sync_to_async

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus, logs
from django_ratelimit_guard.core.exceptions import StoreError, StoreUnavailable
from django_ratelimit_guard.engine.breaker import Call, CircuitBreaker
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.stores.errors import REDIS_ERRORS, store_error

logger = logging.getLogger("django_ratelimit_guard")

T = TypeVar("T")

#: A merge of the counts kept in memory into the scope's Redis; raises StoreError on failure.
Merge = Callable[[], object]

#: Everything a store call may raise that counts as the store's failure.
_FAILURES: tuple[type[BaseException], ...] = (StoreError, *REDIS_ERRORS)


class Unavailable:
    """What :func:`call` returns when Redis could not be used: the caller's fallback decides."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Final = Unavailable()


class Attempt:
    """Permission to make one call to a store scope; report its outcome exactly once."""

    __slots__ = ("breaker", "call", "scope", "started", "store")

    def __init__(self, scope: str, breaker: CircuitBreaker, call: Call, store: str) -> None:
        self.scope = scope
        self.breaker = breaker
        self.call = call
        self.store = store
        # The breaker's own acquire() read the clock: the call is timed from there, unless a
        # merge ran first (restart()). One clock read less on every healthy call.
        self.started = call.started

    @property
    def probe(self) -> bool:
        return self.call.probe

    def restart(self) -> None:
        self.started = self.breaker.clock()

    def succeeded(self, duration: float | None = None) -> None:
        """The store answered; ``duration`` (seconds) defaults to the time since the start."""
        now = self.breaker.clock()
        if duration is None:
            duration = now - self.started
        bus.store_latency.publish(self.store, duration)
        self.call.success(duration, now)

    def failed(self, error: BaseException) -> StoreError:
        """The call raised: classify it, tell the breaker, publish it; return it as a StoreError."""
        exc = store_error(self.scope, error)
        bus.store_latency.publish(self.store, self.breaker.clock() - self.started)
        if isinstance(exc, StoreUnavailable):
            self.call.failure(exc.reason)
        else:
            # A local problem (pool exhausted) or a script bug: Redis itself is fine, so the
            # breaker stays as it is, but the caller still needs its fallback.
            self.call.release()
            self.breaker.count_error(exc.reason)
            _log_local_error(self.scope, exc)
        bus.store_error.publish(self.scope, exc.reason)
        return exc


def _acquire(scope: str, store: str) -> Attempt | None:
    breaker = get_breaker(scope)
    call = breaker.acquire()
    return None if call is None else Attempt(scope, breaker, call, store)


def _merge_due(attempt: Attempt, merge: Merge | None) -> bool:
    """Whether this attempt is a half-open probe that merges the outage's counts first."""
    return attempt.probe and merge is not None and guard_settings().fallback.reconcile


def begin(scope: str, merge: Merge | None = None, *, store: str = "redis") -> Attempt | None:
    """Acquire ``scope``'s breaker (and merge first if this is a probe); None: don't call Redis."""
    attempt = _acquire(scope, store)
    if attempt is None or not _merge_due(attempt, merge):
        return attempt
    try:
        merge()  # type: ignore[misc]  # _merge_due: not None
    except _FAILURES as exc:
        attempt.failed(exc)
        return None
    attempt.restart()  # the merge is not part of the call's latency
    return attempt


async def abegin(scope: str, merge: Merge | None = None, *, store: str = "redis") -> Attempt | None:
    """The async twin of :func:`begin`: a merge (rare, bounded, sync I/O) runs in a thread."""
    attempt = _acquire(scope, store)
    if attempt is None or not _merge_due(attempt, merge):
        return attempt
    try:
        await sync_to_async(merge, thread_sensitive=False)()  # type: ignore[arg-type]
    except _FAILURES as exc:
        attempt.failed(exc)
        return None
    attempt.restart()
    return attempt


def call(
    scope: str,
    fn: Callable[[], T],
    merge: Merge | None = None,
    on_error: Callable[[StoreError], object] | None = None,
) -> T | Unavailable:
    """The whole protocol around ``fn()``: its value, or :data:`UNAVAILABLE` (the breaker refused,
    or the call failed: then ``on_error`` hears of the error first)."""
    attempt = begin(scope, merge)
    if attempt is None:
        return UNAVAILABLE
    try:
        value = fn()
    except _FAILURES as exc:
        error = attempt.failed(exc)
        if on_error is not None:
            on_error(error)
        return UNAVAILABLE
    attempt.succeeded()
    return value


async def acall(
    scope: str, fn: Callable[[], Awaitable[T]], merge: Merge | None = None
) -> T | Unavailable:
    """The async twin of :func:`call`."""
    attempt = await abegin(scope, merge)
    if attempt is None:
        return UNAVAILABLE
    try:
        value = await fn()
    except _FAILURES as exc:
        attempt.failed(exc)
        return UNAVAILABLE
    attempt.succeeded()
    return value


def check_health(scope: str, ping: Callable[[], object]) -> str | None:
    """One health check of ``scope`` (``recovery.py``'s thread, never a request): None when Redis
    answered faster than ``SLOW_CALL_SECONDS`` — the scope's open breaker then makes its next probe
    due at once — else why not (an error kind as ``errors.py`` classifies it, or ``"slow"``).

    A failed check tells the breaker nothing: it is already open, and a check must neither raise
    its backoff nor count as a probe. Nor is it published as a store error: the metric counts
    calls made for requests, and checks run on their own fixed schedule.
    """
    breaker = get_breaker(scope)
    started = breaker.clock()
    try:
        ping()
    except _FAILURES as exc:
        return store_error(scope, exc).reason
    if breaker.clock() - started >= breaker.config.slow_call_seconds:
        return "slow"
    breaker.health_check_passed()
    return None


def _log_local_error(scope: str, exc: StoreError) -> None:
    logs.log(
        logger,
        logging.ERROR,
        f"store_error:{scope}:{exc.reason}",
        "Rate-limit store %r error (%s), decided by the fail modes: %s",
        scope,
        exc.reason,
        exc,
        extra={"scope": scope, "error": exc.reason},
    )


__all__ = [
    "UNAVAILABLE",
    "Attempt",
    "Merge",
    "Unavailable",
    "abegin",
    "acall",
    "begin",
    "call",
    "check_health",
]
