"""``ratelimit_guard_signature_failures_total{reason}``: refused request signatures.

The counter itself lives in ``metrics.py`` with every other metric (a no-op without
prometheus_client); this module is the signing side's narrow door to it.
"""

from __future__ import annotations

from django_ratelimit_guard import metrics


def record_failure(reason: str) -> None:
    """Count one refused signature. ``reason`` comes from a closed set (``signing.py``)."""
    metrics.signature_failure(reason)


def failure_count(reason: str) -> float:
    """The current count for ``reason`` in this process (tests, the admin page)."""
    if not metrics.ENABLED:
        return 0.0
    return float(metrics.METRICS["signature_failures"].labels(reason)._value.get())
