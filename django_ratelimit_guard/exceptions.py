"""Every exception django-ratelimit-guard raises, in one tree.

::

    GuardError                      base of everything below
    ├── ConfigError                 RATELIMIT_GUARD is wrong; ``.problems`` lists every problem
    │                               (also an ``ImproperlyConfigured``, so Django reports it as one)
    ├── StoreError                  a counter store could not answer
    │   ├── StoreUnavailable        the store is down, frozen or refusing (an outage)
    │   └── StoreClosedError        the store was closed by its owner and may not be used again
    └── RateLimited                 raised in a view to reject the request with 429;
                                    ``.decision`` is the decision that rejected it
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django_ratelimit_guard.checks_registry import Problem
    from django_ratelimit_guard.decisions import Decision


class GuardError(Exception):
    """Base class of every error raised by django-ratelimit-guard."""


class ConfigError(GuardError, ImproperlyConfigured):
    """The configuration is invalid. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = [f"[{p.id}] {p.msg}" + (f" {p.hint}" if p.hint else "") for p in self.problems]
        count = len(lines)
        super().__init__(
            f"RATELIMIT_GUARD has {count} problem{'s' if count != 1 else ''}:\n  " + "\n  ".join(lines)
        )


class StoreError(GuardError):
    """A counter store could not answer."""


class StoreUnavailable(StoreError):
    """The store is unreachable, frozen, loading, read-only or out of memory.

    ``scope`` names the breaker scope (the cache alias, or ``alias/host:port`` for one shard).
    """

    def __init__(self, message: str, *, scope: str = "", reason: str = "error") -> None:
        super().__init__(message)
        self.scope = scope
        self.reason = reason


class StoreClosedError(StoreError):
    """The store has been closed; it refuses further use instead of failing silently."""


class RateLimited(GuardError):
    """Raise in a view to reject the request; the middleware or decorator turns it into a 429."""

    def __init__(self, decision: Decision | None = None) -> None:
        super().__init__("rate limited")
        self.decision = decision
