"""A flood of refused signatures writes one log line and its count, and no django.request line
per request (issue #16.4: 609 lines in one hostile run before)."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from django_ratelimit_guard.core import logs
from tests.support.signing import signed_headers


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name or r.name.startswith(name + ".")]


def test_a_flood_of_bad_signatures_writes_one_line_and_its_count(
    signed_redis: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    client = Client()
    headers = signed_headers(secret="x" * 40)  # a wrong secret: bad_signature
    statuses = {client.get("/api/items/", **headers).status_code for _ in range(300)}
    assert statuses == {401}
    assert records(caplog, "django.request") == []
    refused = records(caplog, "django_ratelimit_guard.signing")
    assert len(refused) == 1
    assert refused[0].reason == "bad_signature"  # type: ignore[attr-defined]
    logs.aggregator.flush(everything=True)
    summary = records(caplog, "django_ratelimit_guard.signing")[-1]
    assert summary.suppressed == 299  # type: ignore[attr-defined]
