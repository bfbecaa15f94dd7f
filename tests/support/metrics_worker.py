"""A stand-in gunicorn worker for test_metrics_multiprocess: run with PROMETHEUS_MULTIPROC_DIR set.

argv: breaker state to move the "ratelimit" breaker to, and how many limited decisions to count.
Prints "ready" once its metrics are written, then waits for a line on stdin before exiting.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.settings")

import django

django.setup()

from django_ratelimit_guard.core.decisions import Decision, Result  # noqa: E402
from django_ratelimit_guard.ops import events, metrics  # noqa: E402

state, limited = sys.argv[1], int(sys.argv[2])
if state != "closed":
    events.on_transition("ratelimit", "closed", state, "test")
for _ in range(limited):
    decision = Decision("login", False, 3, 0, 1.0, 1.0, "redis", 60)
    metrics.observe_result(None, Result([decision]))  # type: ignore[arg-type]
metrics.observe_store_latency("redis", 0.0003)  # one sample in the 0.0005 s bucket
metrics.refresh_fallback(10, 100, {"lru": 2})
print("ready", flush=True)
sys.stdin.readline()
