"""Views of the live site: each answers JSON saying which process decided, and from where."""

import os

from django.http import HttpRequest, JsonResponse

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.keys import client_ip


def decided(request: HttpRequest) -> JsonResponse:
    result = getattr(request, "rate_limit", None)
    return JsonResponse(
        {"pid": os.getpid(), "source": result.source if result is not None else None}
    )


def ip(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "ip": client_ip(request, guard_settings().client_ip),
            "remote_addr": str(request.META.get("REMOTE_ADDR")),
        }
    )


def signed(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "key": getattr(request, "api_key_id", None),
            "body": len(request.body),
            "path": request.path,
        }
    )


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"pid": os.getpid()})
