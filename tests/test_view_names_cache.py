"""The middleware's cache of which policies a path's view carries."""

from __future__ import annotations

from django.test import RequestFactory, override_settings

from django_ratelimit_guard.edge import middleware
from django_ratelimit_guard.edge.middleware import view_policy_names


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
