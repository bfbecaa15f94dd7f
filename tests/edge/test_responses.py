"""The answers of the edge against a real redis-server: 429 with Retry-After, the RateLimit-Policy
and RateLimit header fields, a custom rejection view."""

from __future__ import annotations


def test_fourth_login_post_in_a_minute_is_rejected_with_429_and_headers(client, redis):
    for _ in range(3):
        assert client.post("/login/").status_code == 200
    response = client.post("/login/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["RateLimit-Policy"] == '"login";q=3;w=60'
    assert response["RateLimit"].startswith('"login";r=0;t=')


def test_allowed_responses_carry_remaining_budget(client, redis):
    response = client.post("/login/")
    assert response.status_code == 200
    assert response["RateLimit"].startswith('"login";r=2;')


def test_custom_rejection_view_is_used(client, redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "RESPONSE": {"VIEW": "tests.support.callables.teapot"},
    }
    for _ in range(2):
        client.get("/inline/")
    response = client.get("/inline/")
    assert response.status_code == 418
    assert "Retry-After" in response
