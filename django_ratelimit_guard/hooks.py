"""Wire the operations side (metrics, limited-client tracking, breaker events) into the core.

Called once from ``apps.ready()``. Everything hooked here runs after a decision is made or when
a breaker changes state, and none of it adds a Redis call or a lock to allowed requests.
"""

from __future__ import annotations

import time

from django.http import HttpRequest

from django_ratelimit_guard import events, limiter, metrics, resilience_bridge, top_clients
from django_ratelimit_guard.conf import guard_settings
from django_ratelimit_guard.decisions import Result

#: The fallback gauges are refreshed at most this often, and only while the fallback is in use.
FALLBACK_REFRESH_SECONDS = 1.0
_last_fallback_refresh = float("-inf")
_installed = False


def refresh_fallback_metrics(request: HttpRequest, result: Result) -> None:
    global _last_fallback_refresh
    if not metrics.ENABLED:
        return
    for d in result.decisions:  # a plain loop: this runs on every decision (docs/performance.md)
        if d.source == "memory":
            break
    else:
        return
    now = time.monotonic()
    if now - _last_fallback_refresh < FALLBACK_REFRESH_SECONDS:
        return
    _last_fallback_refresh = now
    store = resilience_bridge.fallback_store()
    if store is not None:
        metrics.refresh_fallback(store.entries, store.capacity, dict(store.evictions))


def install() -> None:
    """Idempotent: register the observers and listeners of this package."""
    global _installed
    if _installed:
        return
    _installed = True
    limiter.observers.extend(
        [metrics.observe_result, top_clients.tracker, refresh_fallback_metrics]
    )
    events.install()
    resilience_bridge.add_global_listener(events.on_transition)
    from django_ratelimit_guard import breaker, fleet

    # Breakers created after a fleet-wide force-open (a new shard, a rebuilt registry) obey it.
    breaker.add_creation_hook(fleet.on_breaker_created)
    from django_ratelimit_guard import guard

    guard.error_listeners.append(metrics.observe_store_error)
    # Every worker reports its main scope from the start, so the fleet-wide maximum of a healthy
    # worker (0) is visible next to an unhealthy one, and capacity is known before any outage.
    config = guard_settings()
    metrics.set_breaker_state(config.cache_alias, "closed")
    metrics.refresh_fallback(0, config.fallback.max_entries, {})
