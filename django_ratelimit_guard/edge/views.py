"""The protected Prometheus export (SPEC §8): ``include("django_ratelimit_guard.urls")``.

``METRICS['ALLOWED_CIDRS']`` is judged on ``REMOTE_ADDR`` only — a forwarded header is written by
the client and proves nothing — and ``METRICS['BEARER_TOKEN']`` is compared as bytes with
``hmac.compare_digest``. With both set, both are required. The view reads prometheus_client's
registry (every process's files under ``PROMETHEUS_MULTIPROC_DIR`` in multiprocess mode) and never
calls Redis: scraping must work, and stay cheap, while Redis is down. Refusals (403/401) are
logged once per interval with counts (``core/logs.py``), not once per request by ``django.request``.
"""

from __future__ import annotations

import hmac
import logging
import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_ratelimit_guard.conf.sections import MetricsSettings
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.keys import parse_ip

BEARER = "Bearer "
logger = logging.getLogger("django_ratelimit_guard")


def address_allowed(request: HttpRequest, config: MetricsSettings) -> bool:
    if not config.allowed_cidrs:
        return True
    address = parse_ip(str(request.META.get("REMOTE_ADDR") or ""))
    return address is not None and any(
        address.version == net.version and address in net for net in config.allowed_cidrs
    )


def token_allowed(request: HttpRequest, config: MetricsSettings) -> bool:
    if config.bearer_token is None:
        return True
    header = str(request.META.get("HTTP_AUTHORIZATION") or "")
    if not header.startswith(BEARER):
        return False
    # Bytes on both sides: compare_digest refuses non-ASCII str (a 500). surrogatepass encodes
    # any text without loss, so no substitution character can make a wrong token match.
    provided = header[len(BEARER) :].encode("utf-8", "surrogatepass")
    return hmac.compare_digest(provided, config.bearer_token.encode("ascii"))


def export() -> tuple[bytes, str]:
    # prometheus_client is an optional dependency (the "prometheus" extra): imported here, so the
    # view answers 501 without it instead of the URLconf failing to import.
    from prometheus_client import (  # noqa: PLC0415
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def refused(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    logs.log(
        logger,
        logging.WARNING,
        f"metrics:{response.status_code}",
        "Metrics export refused with %d: remote_addr=%r",
        response.status_code,
        str(request.META.get("REMOTE_ADDR", ""))[:64],
        extra={"status_code": response.status_code},
    )
    return logs.already_logged(response)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    config = guard_settings().metrics
    if not address_allowed(request, config):
        return refused(request, HttpResponse("Forbidden\n", status=403, content_type="text/plain"))
    if not token_allowed(request, config):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused(request, response)
    try:
        body, content_type = export()
    except ImportError:
        return HttpResponse(
            "prometheus_client is not installed: pip install django-ratelimit-guard[prometheus]\n",
            status=501,
            content_type="text/plain",
        )
    return HttpResponse(body, content_type=content_type)
