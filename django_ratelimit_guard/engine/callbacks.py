"""Failures of the user's policy callables (``skip_if``, ``count_when``), logged without flooding.

A callable that raises on every request must not write one log line per request: each
(policy, field) is logged at most once per :data:`ERROR_LOG_INTERVAL`, with the number of
failures since the previous report. The caller then applies its fail-safe rule.
"""

from __future__ import annotations

import logging
import threading
import time

from django_ratelimit_guard.conf.settings import on_reload

logger = logging.getLogger("django_ratelimit_guard")

#: One (policy, field) is logged at most once per this many seconds.
ERROR_LOG_INTERVAL = 60.0

_clock = time.monotonic  # injectable for tests
_failures: dict[tuple[str, str], tuple[float, int]] = {}  # -> (last logged, failures since)
_lock = threading.Lock()


@on_reload
def _forget() -> None:
    _failures.clear()


def report_failure(policy: str, field: str, exc: Exception, consequence: str) -> None:
    """Log that ``policy``'s ``field`` callable raised ``exc`` (rate-limited)."""
    now = _clock()
    with _lock:
        last, count = _failures.get((policy, field), (float("-inf"), 0))
        count += 1
        due = now - last >= ERROR_LOG_INTERVAL
        _failures[(policy, field)] = (now, 0) if due else (last, count)
    if due:
        logger.error(
            "Policy %r: its %s raised %s: %s; %s (%d failure(s) since the last report).",
            policy,
            field,
            type(exc).__name__,
            exc,
            consequence,
            count,
            exc_info=exc,
            extra={"event": f"{field}_failed", "policy": policy, "failures": count},
        )


__all__ = ["ERROR_LOG_INTERVAL", "report_failure"]
