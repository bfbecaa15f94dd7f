"""The operations side's view of the resilience layer (breakers, the memory fallback store).

Imported lazily and guarded, so the status page, the command and the metrics keep working in a
build without ``breaker.py`` / ``stores/memory.py``: they then say breakers are unavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def breaker_module() -> Any | None:
    try:
        from django_ratelimit_guard import breaker
    except ImportError:
        return None
    return breaker


def memory_module() -> Any | None:
    try:
        from django_ratelimit_guard.stores import memory
    except ImportError:
        return None
    return memory


def all_breakers() -> dict[str, Any] | None:
    """Every breaker of this process by scope, or None when breakers are not available."""
    module = breaker_module()
    if module is None:
        return None
    return dict(module.all_breakers())


def get_breaker(scope: str) -> Any | None:
    module = breaker_module()
    return None if module is None else module.get_breaker(scope)


def fallback_store() -> Any | None:
    module = memory_module()
    return None if module is None else module.fallback_store()


def add_global_listener(listener: Callable[[str, Any, Any, str], None]) -> bool:
    module = breaker_module()
    if module is None:
        return False
    module.add_global_listener(listener)
    return True
