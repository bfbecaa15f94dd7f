"""The Django surface against a real redis-server: decorator, middleware, responses."""

from __future__ import annotations

import pytest
from django.test import AsyncClient


def test_fourth_login_post_in_a_minute_is_rejected_with_429_and_headers(client, redis):
    for _ in range(3):
        assert client.post("/login/").status_code == 200
    response = client.post("/login/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["RateLimit-Policy"] == '"login";q=3;w=60'
    assert response["RateLimit"].startswith('"login";r=0;t=')


def test_login_get_is_not_counted_by_a_post_only_policy(client, redis):
    for _ in range(5):
        response = client.get("/login/")
        assert response.status_code == 200
        assert "RateLimit" not in response


def test_allowed_responses_carry_remaining_budget(client, redis):
    response = client.post("/login/")
    assert response.status_code == 200
    assert response["RateLimit"].startswith('"login";r=2;')


def test_inline_policy_is_named_after_its_view(client, redis):
    client.get("/inline/")
    response = client.get("/inline/")
    # Clients see the view's short name; the dotted name stays internal (issue #13, item 8).
    assert response["RateLimit-Policy"] == '"inline";q=2;w=60'
    assert response.wsgi_request.rate_limit.policy == "tests.views.inline"
    assert client.get("/inline/").status_code == 429


def test_clients_with_different_addresses_have_separate_buckets(client, redis):
    for _ in range(2):
        assert client.get("/inline/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/inline/", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get("/inline/", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_class_based_view_with_method_decorator_is_limited(client, redis):
    assert client.get("/cbv/").status_code == 200
    assert client.get("/cbv/").status_code == 200
    assert client.get("/cbv/").status_code == 429


@pytest.mark.django_db
async def test_async_view_is_limited(redis):
    client = AsyncClient()
    assert (await client.get("/async/")).status_code == 200
    assert (await client.get("/async/")).status_code == 200
    assert (await client.get("/async/")).status_code == 429


def test_stacked_decorators_are_decided_in_one_round_trip(client, redis):
    monitor = redis.client()
    before = monitor.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert client.get("/stacked/").status_code == 200
    after = monitor.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert after - before == 1
    assert client.get("/stacked/").status_code == 429


def test_middleware_path_policy_applies_and_exempt_path_does_not(client, redis):
    for _ in range(5):
        assert client.get("/api/items/").status_code == 200
    assert client.get("/api/items/").status_code == 429
    response = client.get("/api/health")
    assert response.status_code == 200
    assert "RateLimit" not in response


def test_paths_outside_every_policy_get_no_headers(client, redis):
    response = client.get("/plain/")
    assert response.status_code == 200
    assert "RateLimit-Policy" not in response


def test_shadow_mode_counts_but_never_rejects(client, redis):
    for _ in range(3):
        response = client.get("/shadow/")
        assert response.status_code == 200
        assert "RateLimit" not in response
    assert response.wsgi_request.rate_limit["shadow"].allowed is False


def test_rate_limited_raised_in_a_view_becomes_429(client, redis):
    assert client.get("/raises/").status_code == 429


def test_disabled_guard_limits_nothing(client, redis, settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "ENABLED": False}
    for _ in range(5):
        assert client.get("/inline/").status_code == 200


def test_custom_rejection_view_is_used(client, redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "RESPONSE": {"VIEW": "tests.helpers.teapot"},
    }
    for _ in range(2):
        client.get("/inline/")
    response = client.get("/inline/")
    assert response.status_code == 418
    assert "Retry-After" in response
