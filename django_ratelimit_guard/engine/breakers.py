"""The breakers of this process: one per store scope, created on first use from the settings.

A new breaker is announced on ``bus.breaker_created`` (the fleet channel makes a breaker created
after a standing force-open obey it). Settings changes drop them all: they are rebuilt, with the
new tuning, on demand.
"""

from __future__ import annotations

import threading

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine.breaker import CircuitBreaker

_breakers: dict[str, CircuitBreaker] = {}
_lock = threading.Lock()


def get_breaker(scope: str) -> CircuitBreaker:
    """The breaker of ``scope`` in this process, created on first use from the settings."""
    breaker = _breakers.get(scope)
    if breaker is None:
        with _lock:
            breaker = _breakers.get(scope)
            if breaker is not None:
                return breaker
            breaker = _breakers[scope] = CircuitBreaker(scope, guard_settings().breaker)
        bus.breaker_created.publish(breaker)  # outside the lock: a subscriber may ask for others
    return breaker


def all_breakers() -> dict[str, CircuitBreaker]:
    """Every breaker of this process, by scope (a copy)."""
    return dict(_breakers)


@on_reload
def forget_breakers() -> None:
    """Drop every breaker: new settings may change the tuning (rebuilt on demand)."""
    with _lock:
        _breakers.clear()


__all__ = ["all_breakers", "forget_breakers", "get_breaker"]
