"""The protected metrics view: addresses judged on REMOTE_ADDR, a bearer token compared as bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.support.builders import METRICS_TOKEN, metrics_settings


def get(remote_addr: str = "127.0.0.1", **extra: Any) -> Any:
    return Client().get(reverse("ratelimit_guard:metrics"), REMOTE_ADDR=remote_addr, **extra)


def test_the_view_is_named_and_routed(metrics_view: Any) -> None:
    assert reverse("ratelimit_guard:metrics") == "/metrics"


def test_localhost_may_scrape_by_default(metrics_view: Any) -> None:
    import django_ratelimit_guard.ops.metrics  # noqa: F401  (registers a metric to look for)

    response = get()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# HELP ratelimit_guard_signature_failures_total" in response.content
    assert get("::1").status_code == 200


@pytest.mark.parametrize(
    "remote_addr", ["10.0.0.1", "", "not-an-ip", "2001:db8::1", "127.0.0.1.evil"]
)
def test_other_addresses_are_forbidden(metrics_view: Any, remote_addr: str) -> None:
    assert get(remote_addr).status_code == 403


def test_a_forwarded_header_cannot_claim_an_allowed_address(
    metrics_view: Any, settings: Any
) -> None:
    metrics_settings(settings, ALLOWED_CIDRS=["127.0.0.1/32"])
    response = get("203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1", HTTP_X_REAL_IP="127.0.0.1")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("", 401),
        ("Bearer", 401),
        ("Bearer ", 401),
        (f"Basic {METRICS_TOKEN}", 401),
        (f"Bearer {METRICS_TOKEN}x", 401),
        (f"Bearer {METRICS_TOKEN[:-1]}", 401),
        (f"Bearer {METRICS_TOKEN[:-1]}\u00e9", 401),
        (f"Bearer {METRICS_TOKEN[:-1]}\xff", 401),
        (f"Bearer {METRICS_TOKEN[:-1]}\udcff", 401),
        (f"Bearer  {METRICS_TOKEN}", 401),
        (f"Bearer {METRICS_TOKEN}", 200),
    ],
)
def test_bearer_token_only(
    metrics_view: Any, settings: Any, authorization: str | None, status: int
) -> None:
    metrics_settings(settings, ALLOWED_CIDRS=[], BEARER_TOKEN=METRICS_TOKEN)
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = get("198.51.100.7", **extra)
    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_with_both_set_both_are_required(metrics_view: Any, settings: Any) -> None:
    metrics_settings(settings, ALLOWED_CIDRS=["10.1.0.0/16"], BEARER_TOKEN=METRICS_TOKEN)
    good = {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}
    assert get("10.1.2.3", **good).status_code == 200
    assert get("10.1.2.3").status_code == 401
    assert get("10.2.0.1", **good).status_code == 403


def test_metrics_are_never_cached(metrics_view: Any) -> None:
    cache_control = get()["Cache-Control"]
    for directive in ("no-store", "no-cache", "private", "max-age=0"):
        assert directive in cache_control


def test_only_get_and_head(metrics_view: Any) -> None:
    assert Client().post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405
    assert Client().head("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_scraping_makes_no_redis_call(metrics_view: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    def no_redis(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the metrics view called Redis")

    monkeypatch.setattr(redis.Redis, "execute_command", no_redis)
    assert get().status_code == 200


def test_multiprocess_mode_serves_every_process_files(
    metrics_view: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from prometheus_client import Counter, values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(
        values, "ValueClass", values.MultiProcessValue(process_identifier=lambda: 4242)
    )
    Counter("rlg_multiprocess_probe", "written to the multiprocess directory", registry=None).inc(3)
    body = get().content.decode()
    assert "rlg_multiprocess_probe_total 3.0" in body
    assert "python_info" not in body  # the per-process registry was not the one served
