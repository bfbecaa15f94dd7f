"""``check()`` inside a view records its decisions on the request, so the response carries the
RateLimit fields where the middleware or a decorator sets them (issue #13, item 7)."""

from __future__ import annotations

import pytest

URLS = "tests.support.views_issue13"


@pytest.mark.urls(URLS)
def test_check_in_a_view_under_the_middleware_sets_the_ratelimit_fields(client, redis):
    response = client.post("/checked/")
    assert response.status_code == 200
    assert response["RateLimit-Policy"] == '"login";q=3;w=60'
    assert response["RateLimit"].startswith('"login";r=2;t=')
    assert response.wsgi_request.rate_limit.policy == "login"


@pytest.mark.urls(URLS)
def test_check_in_a_view_rejection_carries_the_fields_of_its_decision(client, redis):
    for _ in range(3):
        client.post("/checked/")
    response = client.post("/checked/")
    assert response.status_code == 429
    assert response["RateLimit"].startswith('"login";r=0;t=')


@pytest.mark.urls(URLS)
def test_check_in_a_decorated_view_adds_its_policy_to_the_decorators(client, redis, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("RateLimitMiddleware")]
    response = client.post("/checked-under-decorator/")
    assert response["RateLimit-Policy"] == '"outer-inline";q=10;w=60, "login";q=3;w=60'
    # The most restrictive of the two: login has 2 of 3 left, the decorator's 9 of 10.
    assert response["RateLimit"].startswith('"login";r=2;')


@pytest.mark.urls(URLS)
def test_without_middleware_or_decorator_check_sets_no_fields(client, redis, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.endswith("RateLimitMiddleware")]
    response = client.post("/checked/")
    assert response.status_code == 200
    assert "RateLimit" not in response
    assert response.wsgi_request.rate_limit.remaining == 2  # recorded all the same


@pytest.mark.urls(URLS)
def test_a_later_check_of_the_same_policy_replaces_the_earlier_decision(client, redis):
    # The view counts "login" once; the middleware has no path policy for /checked/.
    client.post("/checked/")
    response = client.post("/checked/")
    assert [d.policy for d in response.wsgi_request.rate_limit] == ["login"]
    assert response["RateLimit-Policy"] == '"login";q=3;w=60'
