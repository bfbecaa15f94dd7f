from __future__ import annotations

import os
import time

from django.http import HttpRequest, JsonResponse

from django_ratelimit_guard.ops import fleet_poll


def where(request: HttpRequest) -> JsonResponse:
    """Which process answered, and where its limiter decided this request."""
    time.sleep(float(request.GET.get("sleep", "0")))  # lets concurrent requests reach every worker
    result = getattr(request, "rate_limit", None)
    source = result.decisions[0].source if result is not None and result.decisions else None
    return JsonResponse({"pid": os.getpid(), "source": source, "poller": fleet_poll.thread_alive()})
