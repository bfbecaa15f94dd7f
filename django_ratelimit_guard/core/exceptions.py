"""Every exception django-ratelimit-guard raises, in one tree.

::

    GuardError                      base of everything below
    ├── ConfigError                 RATELIMIT_GUARD is wrong; ``.problems`` lists every problem
    │                               (also an ``ImproperlyConfigured``, so Django reports it as one)
    ├── RateError                   a rate string such as "5/minute" (also a ``ValueError``)
    ├── StoreError                  a counter store could not answer; ``.scope``, ``.reason``
    │   ├── StoreUnavailable        the store is down, frozen or refusing (an outage)
    │   └── StoreClosedError        the store was closed by its owner and may not be used again
    ├── RateLimited                 raised in a view to reject the request with 429;
    │                               ``.decision`` is the decision that rejected it
    ├── SignatureError              a request signature was refused; ``.reason`` (logs, metrics)
    └── ActionError                 an operator action (admin page, manage.py) could not be done

This module imports nothing of the package at run time: every layer may raise from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django_ratelimit_guard.core.decisions import Decision
    from django_ratelimit_guard.core.problems import Problem


class GuardError(Exception):
    """Base class of every error raised by django-ratelimit-guard."""


class ConfigError(GuardError, ImproperlyConfigured):
    """The configuration is invalid. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = [f"[{p.id}] {p.msg}" + (f" {p.hint}" if p.hint else "") for p in self.problems]
        count = len(lines)
        super().__init__(
            f"RATELIMIT_GUARD has {count} problem{'s' if count != 1 else ''}:\n  "
            + "\n  ".join(lines)
        )


class RateError(GuardError, ValueError):
    """A rate string that does not follow the grammar (``"N/u"``, ``"N/Ku"``) or is out of bounds.

    Raised by :func:`django_ratelimit_guard.core.rates.parse_rate`; the message names the problem.
    """


class StoreError(GuardError):
    """A counter store could not answer.

    ``scope`` names the breaker scope (the cache alias, or ``alias/host:port`` for one Cluster
    shard); ``reason`` is the error kind: ``"connection"``, ``"timeout"``, ``"loading"``,
    ``"readonly"``, ``"oom"`` (outages, see :class:`StoreUnavailable`), ``"pool"`` (local pool
    exhausted), ``"script"`` (a script or its arguments were refused) or ``"other"``.
    """

    def __init__(self, message: str, *, scope: str = "", reason: str = "other") -> None:
        super().__init__(message)
        self.scope = scope
        self.reason = reason


class StoreUnavailable(StoreError):
    """The store is unreachable, frozen, loading, read-only or out of memory: an outage, which
    counts against the scope's circuit breaker."""

    def __init__(self, message: str, *, scope: str = "", reason: str = "connection") -> None:
        super().__init__(message, scope=scope, reason=reason)


class StoreClosedError(StoreError):
    """The store has been closed; it refuses further use instead of failing silently."""

    def __init__(self, message: str, *, scope: str = "memory") -> None:
        super().__init__(message, scope=scope, reason="closed")


class RateLimited(GuardError):
    """Raise in a view to reject the request; the middleware or decorator turns it into a 429."""

    def __init__(self, decision: Decision | None = None) -> None:
        super().__init__("rate limited")
        self.decision = decision


class SignatureError(GuardError):
    """A request's signature was refused; ``reason`` says why (for logs and metrics only: the
    client is never told which check failed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ActionError(GuardError):
    """An operator action could not be done; the message says why and what to do.

    ``unavailable`` is true when a store or the database failed (as opposed to bad input).
    """

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


__all__ = [
    "ActionError",
    "ConfigError",
    "GuardError",
    "RateError",
    "RateLimited",
    "SignatureError",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailable",
]
