"""The event bus: what the decision path reports, for whoever listens.

The engine, the stores' callers and the signing middleware *publish*; the operations side
(metrics, persisted breaker events, limited-client tracking, the fleet poller) and the Django
signals *subscribe*, all in one place (``ops/install.py``). So nothing on the decision path
imports metrics, the ORM or Django's signal machinery, and a subscriber that fails is logged,
never in the request's way.

Topics (arguments in order):

=======================  ==========================================================================
``decided``              ``(request, result)`` after every decision that counted
``limited``              ``(request, result)`` when that decision rejected the request
``store_latency``        ``(store, seconds)`` after every store call: ``"redis"``, ``"memory"``
``store_error``          ``(scope, kind)`` for every failed store call (outages and local errors)
``breaker_transition``   ``(scope, old, new, reason)`` after every breaker state change
``breaker_created``      ``(breaker)`` once per breaker, right after it is registered
``signature_failed``     ``(reason)`` for every refused request signature
``local_denial``         ``(policy)`` when a request was denied from Redis's remembered denial,
                         without a Redis command (``engine/local.py``)
``client_reset``         ``(policy, storage_key)`` in every process when an operator clears one
                         client's counter of a policy or changes its runtime override
``settings_reloaded``    ``()`` when ``RATELIMIT_GUARD``, ``CACHES`` or ``SECRET_KEY`` change
=======================  ==========================================================================

Subscribers run on the publisher's thread, in subscription order, synchronously: they must be
cheap and must not block (the decision path publishes ``decided`` on every request).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, ParamSpec

from django_ratelimit_guard.core import logs

logger = logging.getLogger("django_ratelimit_guard")

P = ParamSpec("P")


class Topic(Generic[P]):
    """One kind of event and its subscribers."""

    __slots__ = ("name", "robust", "subscribers")

    def __init__(self, name: str, *, robust: bool = True) -> None:
        self.name = name
        #: False only for ``settings_reloaded``: a cache that could not be dropped must surface.
        self.robust = robust
        self.subscribers: tuple[Callable[P, Any], ...] = ()

    def subscribe(self, subscriber: Callable[P, Any]) -> Callable[P, Any]:
        """Add ``subscriber`` (once; usable as a decorator)."""
        if subscriber not in self.subscribers:
            # A new tuple rather than list.append: a publisher iterating meanwhile is unaffected.
            self.subscribers = (*self.subscribers, subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Callable[P, Any]) -> None:
        self.subscribers = tuple(s for s in self.subscribers if s != subscriber)

    def publish(self, *args: P.args, **kwargs: P.kwargs) -> None:
        if not self.robust:
            for subscriber in self.subscribers:
                subscriber(*args, **kwargs)
            return
        for subscriber in self.subscribers:
            try:
                subscriber(*args, **kwargs)
            except Exception:
                logs.log(
                    logger,
                    logging.ERROR,
                    f"bus:{self.name}:{getattr(subscriber, '__qualname__', '?')}",
                    "A %r subscriber failed: %r",
                    self.name,
                    subscriber,
                    extra={"topic": self.name},
                    exc_info=True,
                )


decided: Topic[[Any, Any]] = Topic("decided")
limited: Topic[[Any, Any]] = Topic("limited")
store_latency: Topic[[str, float]] = Topic("store_latency")
store_error: Topic[[str, str]] = Topic("store_error")
breaker_transition: Topic[[str, str, str, str]] = Topic("breaker_transition")
breaker_created: Topic[[Any]] = Topic("breaker_created")
signature_failed: Topic[[str]] = Topic("signature_failed")
local_denial: Topic[[str]] = Topic("local_denial")
client_reset: Topic[[str, str]] = Topic("client_reset")
settings_reloaded: Topic[[]] = Topic("settings_reloaded", robust=False)

__all__ = [
    "Topic",
    "breaker_created",
    "breaker_transition",
    "client_reset",
    "decided",
    "limited",
    "local_denial",
    "settings_reloaded",
    "signature_failed",
    "store_error",
    "store_latency",
]
