"""Wire the operations side and the Django signals to the event bus (``core/bus.py``), in one place.

Called once from ``apps.ready()``. Everything subscribed here runs after a decision is made, a
store call ends or a breaker changes state; none of it adds a Redis call or a lock of ours to
allowed requests, and a subscriber that fails is logged by the bus, never in the request's way.

=======================  ==========================================================================
``decided``              metrics (decisions), most-limited clients, the fleet poller and, under
                         multiprocess mode, the fallback gauges' refresher thread (one
                         subscriber for all: ``after_decision``)
``limited``              the ``request_limited`` signal
``store_latency``        metrics (latency histogram)
``store_error``          metrics (store errors)
``breaker_transition``   metrics and persisted events (``events.py``), ``breaker_state_changed``,
                         the health checks of open breakers (``engine/recovery.py``),
                         the fleet poller (this process's report for the fleet view)
``breaker_created``      the fleet channel (a late breaker obeys a standing force-open)
``signature_failed``     metrics (signature failures)
``local_denial``         metrics (local denials)
``client_reset``         the memory of Redis's answers (``stores/answers.py``) forgets the client
=======================  ==========================================================================
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest

from django_ratelimit_guard import signals
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus, logs
from django_ratelimit_guard.core.decisions import Result
from django_ratelimit_guard.engine import recovery
from django_ratelimit_guard.engine.breaker import CircuitBreaker
from django_ratelimit_guard.ops import (
    events,
    fallback_gauges,
    fleet,
    fleet_poll,
    metrics,
    top_clients,
)
from django_ratelimit_guard.stores import answers

logger = logging.getLogger("django_ratelimit_guard")

_installed = False


_gauge_thread = False  # multiprocess mode: the fallback gauges need a refresher thread


def after_decision(request: HttpRequest, result: Result) -> None:
    """The operations side's one ``bus.decided`` subscriber (this runs on every decision): the
    decision counters, the most-limited tally when something was over its limit, the fallback
    gauges' refresher thread (multiprocess mode), then the fleet poll's clock compare. One
    subscriber instead of four: three calls less per request (docs/performance.md)."""
    metrics.observe_result(request, result)
    for d in result.decisions:
        if not d.allowed:
            top_clients.tracker(request, result)
            break
    if _gauge_thread:
        fallback_gauges.on_decided(request, result)
    fleet_poll.on_decided(request, result)


def send_request_limited(request: HttpRequest, result: Result) -> None:
    # A flood of limited requests (answered from memory: engine/local.py) sends nothing when no
    # receiver is connected, as is usual: send_robust would look up live receivers every time.
    if signals.request_limited.receivers:
        _send_robust(
            signals.request_limited, sender=Result, request=request, decision=result.decision
        )


def send_breaker_state_changed(scope: str, old: Any, new: Any, reason: str) -> None:
    _send_robust(
        signals.breaker_state_changed,
        sender=CircuitBreaker,
        scope=scope,
        old=str(getattr(old, "value", old)),
        new=str(getattr(new, "value", new)),
    )


def _send_robust(signal: Any, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(**kwargs):
        if isinstance(result, Exception):
            # On the request path (request_limited): aggregated, with the first traceback.
            logs.log(
                logger,
                logging.ERROR,
                f"signal:{getattr(receiver, '__qualname__', '?')}",
                "A receiver of a django_ratelimit_guard signal failed: %r: %r",
                receiver,
                result,
                exc_info=True,
            )


def install() -> None:
    """Idempotent: subscribe the operations side and the signals to the bus."""
    global _installed
    if _installed:
        return
    _installed = True
    global _gauge_thread
    _gauge_thread = fallback_gauges.install()
    bus.decided.subscribe(after_decision)
    bus.limited.subscribe(send_request_limited)
    bus.store_latency.subscribe(metrics.observe_store_latency)
    bus.store_error.subscribe(metrics.observe_store_error)
    bus.breaker_transition.subscribe(events.on_transition)
    bus.breaker_transition.subscribe(send_breaker_state_changed)
    bus.breaker_transition.subscribe(recovery.on_transition)
    bus.breaker_transition.subscribe(fleet_poll.on_transition)  # the fleet view, at once
    bus.breaker_created.subscribe(fleet.on_breaker_created)
    bus.signature_failed.subscribe(metrics.signature_failure)
    bus.local_denial.subscribe(metrics.local_denial)
    bus.client_reset.subscribe(answers.forget_client)
    events.install()
    # Every worker reports its main scope from the start, so the fleet-wide maximum of a healthy
    # worker (0) is visible next to an unhealthy one, and capacity is known before any outage.
    config = guard_settings()
    metrics.set_breaker_state(config.cache_alias, "closed")
    metrics.refresh_fallback(0, config.fallback.max_entries, {})


__all__ = ["after_decision", "install"]
