"""RateLimitMiddleware: path policies (sync and async), RateLimited raised by a view, and its cache
of which policies a path's view carries."""

from __future__ import annotations

import pytest
from django.test import AsyncClient, RequestFactory, override_settings

from django_ratelimit_guard.edge import middleware
from django_ratelimit_guard.edge.middleware import view_policy_names


@pytest.mark.django_db
async def test_async_middleware_applies_path_policies(redis):
    client = AsyncClient()
    codes = [(await client.get("/api/items/")).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


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


def test_rate_limited_raised_in_a_view_becomes_429(client, redis):
    assert client.get("/raises/").status_code == 429


def names(path: str) -> tuple[str, ...]:
    return view_policy_names(RequestFactory().get(path))


def test_a_path_reaches_the_names_of_its_view_and_unknown_paths_none():
    assert names("/login/") == ("login",)
    assert names("/login/") == ("login",)  # from the cache
    assert names("/cbv/") == ("cbv",)
    assert names("/no-such-page/") == ()


def test_a_new_urlconf_is_resolved_afresh():
    assert names("/login/") == ("login",)
    with override_settings(ROOT_URLCONF="tests.support.urls_swapped"):
        assert names("/login/") == ()
        assert names("/plain/") == ("login",)
    assert names("/login/") == ("login",)


def test_a_per_request_urlconf_is_honoured():
    request = RequestFactory().get("/login/")
    request.urlconf = "tests.support.urls_swapped"
    assert view_policy_names(request) == ()


def test_the_cache_stays_bounded_under_a_flood_of_distinct_paths(monkeypatch):
    monkeypatch.setattr(middleware, "NAMES_CACHE_SIZE", 50)
    for i in range(500):
        names(f"/flood/{i}/")
    assert all(len(cache) <= 50 for cache in middleware._names_by_resolver.values())
    assert names("/login/") == ("login",)
