"""Prometheus metrics (SPEC §8), safe under gunicorn's ``PROMETHEUS_MULTIPROC_DIR`` mode.

Every metric lives in prometheus_client's default registry, which django-prometheus's ``/metrics``
and our protected view both export. Design rules:

* Base units (seconds), ``_total`` only on counters, and labels drawn from bounded sets only —
  policy names, scopes, outcomes, sources, error kinds. Never an IP, a user or a key value.
* No ``Enum`` metric (multiprocess mode cannot merge it): the breaker state is a number, and its
  gauge merges as ``livemax`` — the worst state among live workers, so 2 means *some* worker has
  the breaker open. Each gauge names its ``multiprocess_mode`` on purpose.
* Updates never touch Redis and take no lock of ours: label children are cached in plain dicts
  (a lost race only builds the same child twice), so the decision path pays one ``inc()``.
* prometheus_client is an optional extra: without it every function here is a no-op.
"""

from __future__ import annotations

import functools
import logging
import os
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.http import HttpRequest

    from django_ratelimit_guard.core.decisions import Result

try:
    import prometheus_client as _prom
except ImportError:  # pragma: no cover - exercised only without the "prometheus" extra
    _prom = None  # type: ignore[assignment]

#: Numeric encoding of breaker states for ``ratelimit_guard_breaker_state``.
STATE_VALUES: Mapping[str, int] = {"closed": 0, "half_open": 1, "open": 2}

# Store calls are sub-millisecond on a healthy LAN and capped by SOCKET_TIMEOUT (≤ 0.5 s, W002).
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

ENABLED = _prom is not None
#: Under gunicorn's multiprocess mode each process writes its values to files that the scraping
#: process merges; nothing runs in the other processes at scrape time.
MULTIPROCESS = ENABLED and bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

logger = logging.getLogger("django_ratelimit_guard")

#: Called at the start of every scrape of this process's default registry, before our metrics
#: are read (``fallback_gauges.py`` refreshes the fallback store's figures there).
scrape_hooks: list[Callable[[], None]] = []


class _ScrapeHooks:
    """A collector with no metrics of its own, registered before ours: the registry collects in
    registration order, so the hooks run before our metrics are read."""

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        for hook in list(scrape_hooks):
            try:
                hook()
            except Exception:  # a scrape must never fail because of a hook
                logger.exception("A metrics scrape hook failed: %r", hook)
        return []


def _build() -> dict[str, Any]:
    if _prom is None:
        return {}
    _prom.REGISTRY.register(_ScrapeHooks())
    return {
        "decisions": _prom.Counter(
            "ratelimit_guard_decisions_total",
            "Rate-limit decisions, by policy, outcome (allowed/limited) and source.",
            ["policy", "outcome", "source"],
        ),
        "breaker_state": _prom.Gauge(
            "ratelimit_guard_breaker_state",
            "Circuit breaker state per store scope: 0 closed, 1 half-open, 2 open "
            "(maximum over live worker processes).",
            ["scope"],
            multiprocess_mode="livemax",
        ),
        "transitions": _prom.Counter(
            "ratelimit_guard_breaker_transitions_total",
            "Circuit breaker state changes.",
            ["scope", "from_state", "to_state"],
        ),
        "store_errors": _prom.Counter(
            "ratelimit_guard_store_errors_total",
            "Failed store calls, by scope and error kind (connection, timeout, pool, script, ...).",
            ["scope", "error"],
        ),
        "store_latency": _prom.Histogram(
            "ratelimit_guard_store_latency_seconds",
            "Duration of one store call (all hits of one request).",
            ["store"],
            buckets=LATENCY_BUCKETS,
        ),
        # Per-process stores: the fleet-wide figures are the sums over live workers, so
        # entries / capacity stays a meaningful fill ratio.
        "fallback_entries": _prom.Gauge(
            "ratelimit_guard_fallback_entries",
            "Entries in the in-memory fallback store (sum over live worker processes).",
            multiprocess_mode="livesum",
        ),
        "fallback_capacity": _prom.Gauge(
            "ratelimit_guard_fallback_capacity",
            "Capacity of the in-memory fallback store (sum over live worker processes).",
            multiprocess_mode="livesum",
        ),
        "fallback_evictions": _prom.Counter(
            "ratelimit_guard_fallback_evictions_total",
            "Entries evicted from the in-memory fallback store, by reason.",
            ["reason"],
        ),
        "local_denials": _prom.Counter(
            "ratelimit_guard_local_denials_total",
            "Requests denied from a remembered Redis denial, without a Redis command, by the "
            "policy that denied them.",
            ["policy"],
        ),
        "signature_failures": _prom.Counter(
            "ratelimit_guard_signature_failures_total",
            "Rejected signed requests, by reason.",
            ["reason"],
        ),
    }


METRICS: dict[str, Any] = _build()

# Label children, cached without a lock: ``.labels()`` takes the parent's lock on every call.
_children: dict[tuple[str, tuple[str, ...]], Any] = {}


def _child(name: str, *labels: str) -> Any:
    key = (name, labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = METRICS[name].labels(*labels)
    return child


# The decision path's two updates, as callables cached by their labels: one dict lookup and the
# update itself per call (docs/performance.md).
_decision_incs: dict[tuple[str, bool, str], Callable[[], None]] = {}
_latency_observers: dict[str, Callable[[float], None]] = {}


#: Where prometheus_client keeps its value classes (``MutexValue``, the multiprocess one). A
#: ``_value`` of any other kind is a release whose internals we do not know: public methods then.
_VALUES_MODULE = "prometheus_client.values"


def _known_value(value: object) -> bool:
    return type(value).__module__ == _VALUES_MODULE and callable(getattr(value, "inc", None))


def _fast_inc(child: Any) -> Callable[[], None]:
    """``child.inc()`` without its per-call checks: a label child is always observable and 1 is
    never negative, so one increment of its value (a lock, or an mmap write under multiprocess
    mode) is all there is. prometheus_client's own method where its internals differ."""
    value = getattr(child, "_value", None)
    if not _known_value(value):
        return cast("Callable[[], None]", child.inc)
    return functools.partial(value.inc, 1)  # type: ignore[union-attr]


def _fast_observe(child: Any) -> Callable[[float], None]:
    """``child.observe(seconds)`` as two increments: the sum, and the first bucket whose bound
    is not below the value (found by bisection instead of a loop over every bound)."""
    sum_value = getattr(child, "_sum", None)
    bounds = getattr(child, "_upper_bounds", None)
    values = getattr(child, "_buckets", None)
    if not (
        _known_value(sum_value)
        and isinstance(bounds, list)
        and isinstance(values, list)
        and len(bounds) == len(values)
        and bounds
        and bounds[-1] == float("inf")
        and all(_known_value(value) for value in values)
    ):
        return cast("Callable[[float], None]", child.observe)
    sum_inc = cast(Any, sum_value).inc
    bucket_incs = [value.inc for value in values]

    def observe(seconds: float) -> None:
        sum_inc(seconds)
        bucket_incs[bisect_left(bounds, seconds)](1)

    return observe


def observe_result(request: HttpRequest, result: Result) -> None:
    """A ``bus.decided`` subscriber: one counter increment per decision."""
    if not ENABLED:
        return
    for d in result.decisions:
        key = (d.policy, d.allowed, d.source)
        inc = _decision_incs.get(key)
        if inc is None:
            outcome = "allowed" if d.allowed else "limited"
            inc = _decision_incs[key] = _fast_inc(_child("decisions", d.policy, outcome, d.source))
        try:
            inc()
        except (AttributeError, TypeError):  # an internal changed under us: public from now on
            outcome = "allowed" if d.allowed else "limited"
            public = _decision_incs[key] = _child("decisions", d.policy, outcome, d.source).inc
            public()


_local_denial_incs: dict[str, Callable[[], None]] = {}


def local_denial(policy: str) -> None:
    """A ``bus.local_denial`` subscriber: one request denied without a Redis command."""
    if ENABLED:
        inc = _local_denial_incs.get(policy)
        if inc is None:
            inc = _local_denial_incs[policy] = _fast_inc(_child("local_denials", policy))
        try:
            inc()
        except (AttributeError, TypeError):  # an internal changed under us: public from now on
            public = _local_denial_incs[policy] = _child("local_denials", policy).inc
            public()


def observe_store_latency(store: str, seconds: float) -> None:
    """A ``bus.store_latency`` subscriber: one store call's duration (``"redis"``, ``"memory"``)."""
    if ENABLED:
        observe = _latency_observers.get(store)
        if observe is None:
            observe = _latency_observers[store] = _fast_observe(_child("store_latency", store))
        try:
            observe(seconds)
        except (AttributeError, TypeError):  # an internal changed under us: public from now on
            public = _latency_observers[store] = _child("store_latency", store).observe
            public(seconds)


def observe_store_error(scope: str, kind: str) -> None:
    """A ``bus.store_error`` subscriber: outages and local errors, by scope and kind."""
    if ENABLED:
        _child("store_errors", scope, kind).inc()


def observe_transition(scope: str, old: str, new: str) -> None:
    """The state gauge and the transitions counter of one breaker transition."""
    if not ENABLED:
        return
    _child("breaker_state", scope).set(STATE_VALUES.get(new, 0))
    _child("transitions", scope, old, new).inc()


def set_breaker_state(scope: str, state: str) -> None:
    if ENABLED:
        _child("breaker_state", scope).set(STATE_VALUES.get(state, 0))


def signature_failure(reason: str) -> None:
    """A ``bus.signature_failed`` subscriber. ``reason`` comes from a closed set (``signing``)."""
    if ENABLED:
        _child("signature_failures", reason).inc()


def signature_failure_count(reason: str) -> float:
    """The count of refused signatures for ``reason`` in this process (tests, the admin page)."""
    if not ENABLED:
        return 0.0
    for metric in METRICS["signature_failures"].collect():  # the public way to read a value
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("reason") == reason:
                return float(sample.value)
    return 0.0


# Evictions are cumulative counts on the store; the counter advances by the difference.
_evictions_seen: dict[str, int] = {}


def refresh_fallback(entries: int, capacity: int, evictions: Mapping[str, int]) -> None:
    """Copy the fallback store's figures into the gauges and the evictions counter."""
    if not ENABLED:
        return
    METRICS["fallback_entries"].set(entries)
    METRICS["fallback_capacity"].set(capacity)
    for reason, total in evictions.items():
        delta = total - _evictions_seen.get(reason, 0)
        if delta < 0:  # the store was replaced (settings reload): its count restarted
            delta = total
        if delta:
            _child("fallback_evictions", reason).inc(delta)
        _evictions_seen[reason] = total
