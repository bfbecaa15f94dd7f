"""Our own 429/503 responses are not re-logged by ``django.request`` (one line, or one email to
ADMINS, per rejected request); the app writes one summary per policy and status and interval,
with counts. Hostile floods (bad signatures, malformed forwarded headers) write a bounded number
of lines with the right counts, the first one at once (issues #13.15 and #16.4)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import django
import pytest
from django.core import mail
from django.http import HttpResponse
from django.test import Client
from django.utils.log import AdminEmailHandler, log_response

from django_ratelimit_guard.core import logs
from tests.support.redis_servers import RedisServer

RATELIMIT_LOGGERS = ("django_ratelimit_guard", "django.request")


@pytest.fixture
def admin_emails(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Django's default for DEBUG = False: errors of django.request mailed to ADMINS."""
    # Django 6 wants addresses, Django 4.2 and 5.2 (name, address) pairs.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )
    settings.DEBUG = False
    handler = AdminEmailHandler()
    handler.setLevel(logging.ERROR)
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(handler)
    mail.outbox = []
    yield
    request_logger.removeHandler(handler)


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name or r.name.startswith(name + ".")]


@pytest.fixture
def stopped_redis(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The rate-limit cache on a port where nothing listens: every closed policy answers 503."""
    server = RedisServer()  # never started: its port is free
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
        },
    }
    yield
    server.close()


def test_closed_mode_503s_of_an_outage_send_no_email_and_log_one_summary(
    stopped_redis: None,
    admin_emails: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client = Client()
    statuses = [client.post("/login/", REMOTE_ADDR=f"10.3.0.{i}").status_code for i in range(40)]
    assert statuses == [503] * 40
    assert mail.outbox == []
    assert records(caplog, "django.request") == []
    summary = records(caplog, "django_ratelimit_guard.rejections")
    assert len(summary) == 1  # the first one, at once
    assert summary[0].levelno == logging.WARNING
    assert "503 by policy 'login' (source closed)" in summary[0].getMessage()
    assert logs.aggregator.flush(everything=True) == 1
    total = records(caplog, "django_ratelimit_guard.rejections")
    assert "[and 39 more like this" in total[-1].getMessage()

    # The control: the same handler does mail a 503 that is not ours.
    log_response("Service Unavailable: %s", "/x", response=HttpResponse(status=503))
    assert len(mail.outbox) == 1


def test_429s_are_summarized_per_policy_not_logged_per_request(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = Client()
    statuses = [client.post("/login/", REMOTE_ADDR="10.4.0.1").status_code for _ in range(30)]
    assert statuses.count(429) == 27  # login: 3/m
    assert records(caplog, "django.request") == []
    (first,) = records(caplog, "django_ratelimit_guard.rejections")
    assert first.levelno == logging.INFO
    assert first.status_code == 429 and first.policy == "login"  # type: ignore[attr-defined]
    logs.aggregator.flush(everything=True)
    summary = records(caplog, "django_ratelimit_guard.rejections")[-1]
    assert summary.suppressed == 26  # type: ignore[attr-defined]


def test_a_flood_of_malformed_forwarded_headers_writes_one_line_and_its_count(
    redis: RedisServer,
    settings,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "CLIENT_IP": {"TRUSTED_PROXIES": ["10.0.0.0/8"]},
        "POLICIES": {"api": {"rate": "10000/m", "key": "ip", "paths": ["/api/"]}},
    }
    caplog.set_level(logging.INFO)
    client = Client()
    for i in range(200):
        response = client.get(
            "/api/items/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=f"garbage-{i}"
        )
        assert response.status_code == 200
    lines = [
        r for r in records(caplog, "django_ratelimit_guard") if "unparseable" in r.getMessage()
    ]
    assert len(lines) == 1
    logs.aggregator.flush(everything=True)
    lines = [
        r for r in records(caplog, "django_ratelimit_guard") if "unparseable" in r.getMessage()
    ]
    assert lines[-1].suppressed == 199  # type: ignore[attr-defined]


def test_refused_metrics_scrapes_are_one_line_and_a_count_not_a_line_each(
    settings,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.ROOT_URLCONF = "tests.support.api_urls"
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "METRICS": {"ALLOWED_CIDRS": ["10.0.0.0/8"]},
    }
    caplog.set_level(logging.INFO)
    client = Client()
    statuses = {client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code for _ in range(50)}
    assert statuses == {403}
    assert records(caplog, "django.request") == []
    refused = [r for r in caplog.records if "Metrics export refused" in r.getMessage()]
    assert len(refused) == 1  # the first, at once
    logs.aggregator.flush(everything=True)
    summary = [r for r in caplog.records if "Metrics export refused" in r.getMessage()][-1]
    assert summary.suppressed == 49  # type: ignore[attr-defined]
