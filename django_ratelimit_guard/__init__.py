"""django-ratelimit-guard: rate limits that stay correct, and keep the site up, when Redis fails.

The public API, in one place::

    from django_ratelimit_guard import rate_limit, check, acheck, get_usage, aget_usage, reset
    from django_ratelimit_guard import validate_views  # in wsgi.py of decorator-only projects
    from django_ratelimit_guard import Decision, Result, Policy, RateLimited, GuardError, ...

Importing the package (from settings.py, say) never touches Django's settings: the exception tree
imports nothing but Django's exceptions, and the rest is imported on first use (PEP 562).
``docs/architecture.md`` shows the packages behind it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from django_ratelimit_guard.core.exceptions import (
    ActionError,
    ConfigError,
    GuardError,
    RateError,
    RateLimited,
    SignatureError,
    StoreClosedError,
    StoreError,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from django_ratelimit_guard.core.decisions import Decision, Result
    from django_ratelimit_guard.core.policies import Policy
    from django_ratelimit_guard.edge.api import acheck, aget_usage, check, get_usage, reset
    from django_ratelimit_guard.edge.decorators import rate_limit
    from django_ratelimit_guard.edge.startup import validate_views

__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "ConfigError",
    "Decision",
    "GuardError",
    "Policy",
    "RateError",
    "RateLimited",
    "Result",
    "SignatureError",
    "StoreClosedError",
    "StoreError",
    "StoreUnavailable",
    "acheck",
    "aget_usage",
    "check",
    "get_usage",
    "rate_limit",
    "reset",
    "validate_views",
]

_LAZY = {
    **dict.fromkeys(("acheck", "aget_usage", "check", "get_usage", "reset"), "edge.api"),
    "Decision": "core.decisions",
    "Result": "core.decisions",
    "Policy": "core.policies",
    "rate_limit": "edge.decorators",
    "validate_views": "edge.startup",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'django_ratelimit_guard' has no attribute {name!r}")
    return getattr(import_module(f"django_ratelimit_guard.{module}"), name)
