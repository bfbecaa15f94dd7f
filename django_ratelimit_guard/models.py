"""The app's models, as Django looks for them (``<app>.models``); they are defined with the
operations side that owns them, ``ops/models.py``. Nothing inside the package imports this module.
"""

from django_ratelimit_guard.ops.models import (
    BreakerCommand,
    BreakerEvent,
    ProcessReport,
    RateLimitOverride,
    Status,
)

__all__ = ["BreakerCommand", "BreakerEvent", "ProcessReport", "RateLimitOverride", "Status"]
