"""One classification of store errors, for every Redis call the package makes.

Every Redis or socket exception becomes a :class:`StoreError` here, named after its breaker scope:
a :class:`StoreUnavailable` for an outage (which counts against the scope's circuit breaker), a
plain :class:`StoreError` for a local problem (pool exhausted) or a refused script (neither says
anything about Redis's health). ``reason`` carries the kind, for metrics and logs.
"""

from __future__ import annotations

import asyncio

import redis.exceptions as rexc

from django_ratelimit_guard.core.exceptions import StoreError, StoreUnavailable

#: Kinds that mean Redis itself is failing: they open breakers.
OUTAGE_KINDS = frozenset({"connection", "timeout", "loading", "readonly", "oom"})

#: What a store call may raise that :func:`store_error` turns into a StoreError.
REDIS_ERRORS: tuple[type[BaseException], ...] = (rexc.RedisError, OSError, asyncio.TimeoutError)


def classify(exc: BaseException) -> str:
    """Name a Redis exception: ``"outage"`` kinds open breakers; ``"pool"``/``"script"`` don't.

    Returns one of ``"connection"``, ``"timeout"``, ``"loading"``, ``"readonly"``, ``"oom"``,
    ``"noscript"``, ``"pool"`` (local pool exhausted), ``"script"`` (a bug in a script or its
    arguments), ``"other"``.
    """
    if isinstance(exc, StoreError):
        return exc.reason
    if isinstance(exc, rexc.NoScriptError):
        return "noscript"
    if isinstance(exc, rexc.BusyLoadingError):
        return "loading"
    if isinstance(exc, rexc.ReadOnlyError):
        return "readonly"
    if isinstance(exc, (rexc.TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(exc, rexc.ConnectionError):
        # redis-py raises ConnectionError("No connection available.") when a BlockingConnectionPool
        # is exhausted: a local capacity problem, not a Redis outage.
        if "No connection available" in str(exc) or "Too many connections" in str(exc):
            return "pool"
        return "connection"
    if isinstance(exc, rexc.OutOfMemoryError) or (
        isinstance(exc, rexc.ResponseError) and str(exc).startswith("OOM")
    ):
        return "oom"
    if isinstance(exc, rexc.ResponseError):
        if str(exc).startswith(("MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "LOADING")):
            return "loading"
        return "script"
    if isinstance(exc, (OSError, rexc.RedisError)):
        return "connection"
    return "other"


def store_error(scope: str, exc: BaseException) -> StoreError:
    """``exc`` as the StoreError of ``scope`` (a StoreError is returned as it is)."""
    if isinstance(exc, StoreError):
        return exc
    kind = classify(exc)
    if kind in OUTAGE_KINDS:
        return StoreUnavailable(f"Redis ({scope}) is unavailable: {exc}", scope=scope, reason=kind)
    return StoreError(f"Redis ({scope}) refused the call: {exc}", scope=scope, reason=kind)


__all__ = ["OUTAGE_KINDS", "REDIS_ERRORS", "classify", "store_error"]
