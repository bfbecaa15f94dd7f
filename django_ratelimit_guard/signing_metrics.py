"""``ratelimit_guard_signature_failures_total{reason}``: refused request signatures.

prometheus_client is optional; without it recording is a no-op. (This counter is meant to move
into ``metrics.py`` with the rest of the metrics.)
"""

from __future__ import annotations

from typing import Any

_counter: Any = None
try:
    from prometheus_client import Counter

    _counter = Counter(
        "ratelimit_guard_signature_failures",
        "Requests whose HMAC signature was refused, by reason.",
        ["reason"],
    )
except ImportError:  # pragma: no cover - prometheus_client is an optional dependency
    pass
except ValueError:  # pragma: no cover - already registered (module reloaded)
    from prometheus_client import REGISTRY

    _counter = REGISTRY._names_to_collectors.get("ratelimit_guard_signature_failures_total")


def record_failure(reason: str) -> None:
    """Count one refused signature. ``reason`` comes from a closed set (``signing.py``)."""
    if _counter is not None:
        _counter.labels(reason=reason).inc()


def failure_count(reason: str) -> float:
    """The current count for ``reason`` in this process (tests, the admin page)."""
    if _counter is None:
        return 0.0
    return float(_counter.labels(reason=reason)._value.get())
