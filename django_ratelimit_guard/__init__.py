"""django-ratelimit-guard: rate limits that stay correct, and keep the site up, when Redis fails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Decision",
    "RateLimited",
    "Result",
    "acheck",
    "aget_usage",
    "check",
    "get_usage",
    "rate_limit",
    "reset",
]

if TYPE_CHECKING:
    from django_ratelimit_guard.api import acheck, aget_usage, check, get_usage, reset
    from django_ratelimit_guard.decisions import Decision, Result
    from django_ratelimit_guard.decorators import rate_limit
    from django_ratelimit_guard.exceptions import RateLimited

_LAZY = {
    "acheck": "api", "aget_usage": "api", "check": "api", "get_usage": "api", "reset": "api",
    "Decision": "decisions", "Result": "decisions", "rate_limit": "decorators",
    "RateLimited": "exceptions",
}


def __getattr__(name: str) -> Any:
    # Lazy so that importing the package (e.g. from settings.py) never touches Django settings.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'django_ratelimit_guard' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"django_ratelimit_guard.{module}"), name)
