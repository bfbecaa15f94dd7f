"""PolicyThrottle against real DRF views and a real redis-server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings

from django_ratelimit_guard.contrib.rest_framework import PolicyThrottle
from django_ratelimit_guard.core.algorithms import Verdict
from django_ratelimit_guard.engine import decide
from tests.contrib.drf_views import POLICIES
from tests.support import settings as test_settings
from tests.support.builders import evalsha_calls

pytestmark = [pytest.mark.urls("tests.contrib.drf_urls"), pytest.mark.guard(POLICIES)]
NO_MIDDLEWARE = [m for m in test_settings.MIDDLEWARE if "ratelimit" not in m]


def test_throttle_scope_names_the_policy_and_the_third_request_gets_429(client, guarded):
    assert client.get("/drf/scoped/").status_code == 200
    assert client.get("/drf/scoped/").status_code == 200
    response = client.get("/drf/scoped/")
    assert response.status_code == 429
    # Sliding window: the earliest retry may lie in the next window (up to two windows away).
    assert 1 <= int(response["Retry-After"]) <= 120
    assert response.json()["detail"].startswith("Request was throttled.")


def test_drf_responses_carry_ratelimit_headers_through_the_middleware(client, guarded):
    response = client.get("/drf/scoped/")
    assert response["RateLimit-Policy"] == '"drf-scope";q=2;w=60'
    assert response["RateLimit"].startswith('"drf-scope";r=1;t=')
    client.get("/drf/scoped/")
    rejected = client.get("/drf/scoped/")
    assert rejected["RateLimit"].startswith('"drf-scope";r=0;t=')


def test_all_policies_of_a_view_are_decided_in_one_round_trip(client, guarded):
    before = evalsha_calls(guarded)
    response = client.get("/drf/several/")
    assert evalsha_calls(guarded) - before == 1
    assert response["RateLimit-Policy"] == '"drf-burst";q=3;w=60, "drf-sustained";q=2;w=3600'
    # The most restrictive one (fewest remaining) is reported.
    assert response["RateLimit"].startswith('"drf-sustained";r=1;')


def test_the_most_restrictive_policy_rejects_and_sets_retry_after(client, guarded):
    client.get("/drf/several/")
    client.get("/drf/several/")
    response = client.get("/drf/several/")
    assert response.status_code == 429
    # drf-sustained (2/h) rejected: the wait is up to an hour, more than the minute window allows.
    assert int(response["Retry-After"]) > 60


def test_a_view_naming_no_policy_is_not_limited_and_costs_no_round_trip(client, guarded):
    before = evalsha_calls(guarded)
    for _ in range(5):
        response = client.get("/drf/unlimited/")
        assert response.status_code == 200
        assert "RateLimit" not in response
    assert evalsha_calls(guarded) == before


def test_unknown_policy_name_is_improperly_configured(client, guarded):
    with pytest.raises(ImproperlyConfigured, match="no-such-policy"):
        client.get("/drf/unknown/")


def test_user_key_counts_the_drf_authenticated_user(client, guarded):
    assert client.get("/drf/by-user/", HTTP_X_TEST_USER="7").status_code == 200
    assert client.get("/drf/by-user/", HTTP_X_TEST_USER="7").status_code == 429
    # Same address, another DRF user: a separate bucket.
    assert client.get("/drf/by-user/", HTTP_X_TEST_USER="8").status_code == 200
    # Anonymous requests skip a "user" policy.
    for _ in range(3):
        assert client.get("/drf/by-user/").status_code == 200


def test_usable_in_default_throttle_classes(client, guarded, settings):
    path = "django_ratelimit_guard.contrib.rest_framework.PolicyThrottle"
    settings.REST_FRAMEWORK = {"DEFAULT_THROTTLE_CLASSES": [path]}
    assert [PolicyThrottle] == api_settings.DEFAULT_THROTTLE_CLASSES
    assert client.get("/drf/defaults/").status_code == 200
    assert client.get("/drf/defaults/").status_code == 200
    assert client.get("/drf/defaults/").status_code == 429


def test_mixin_adds_headers_without_the_middleware(client, guarded, settings):
    settings.MIDDLEWARE = NO_MIDDLEWARE
    response = client.get("/drf/headers/")
    assert response["RateLimit-Policy"] == '"drf-scope";q=2;w=60'
    client.get("/drf/headers/")
    rejected = client.get("/drf/headers/")
    assert rejected.status_code == 429
    assert rejected["RateLimit"].startswith('"drf-scope";r=0;')


def test_without_middleware_or_mixin_the_throttle_still_limits(client, guarded, settings):
    settings.MIDDLEWARE = NO_MIDDLEWARE
    client.get("/drf/scoped/")
    client.get("/drf/scoped/")
    response = client.get("/drf/scoped/")
    assert response.status_code == 429
    assert "RateLimit" not in response


def test_a_policy_the_middleware_already_decided_is_counted_once(client, guarded):
    # drf-path applies by path (middleware) and is also the view's throttle_scope.
    assert client.get("/drf/path/scoped/").status_code == 200
    assert client.get("/drf/path/scoped/").status_code == 200
    response = client.get("/drf/path/scoped/")
    assert response.status_code == 429
    assert response["RateLimit-Policy"] == '"drf-path";q=2;w=60'


def test_throttle_subclass_applies_its_own_policies(client, guarded):
    for _ in range(3):
        response = client.get("/drf/subclass/")
        assert response.status_code == 200
        assert response["RateLimit-Policy"] == '"drf-burst";q=3;w=60'
    assert client.get("/drf/subclass/").status_code == 429


def test_configured_response_status_applies_to_drf_views(client, guarded, settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "RESPONSE": {"STATUS": 420}}
    client.get("/drf/scoped/")
    client.get("/drf/scoped/")
    response = client.get("/drf/scoped/")
    assert response.status_code == 420
    assert int(response["Retry-After"]) >= 1


def test_undecidable_closed_policy_is_503_with_retry_after(client, guarded, monkeypatch):
    # What the resilience layer answers for a "closed" policy while its store is down.
    def closed(planned, *, count=True):
        return [(Verdict(False, 0, 60_000, 5_000), "closed") for _ in planned]

    monkeypatch.setattr(decide, "decide", closed)
    response = client.get("/drf/closed/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["detail"] == "The rate limiter could not decide this request."


def test_a_string_instead_of_a_list_of_policies_is_rejected(guarded):
    class View:
        rate_limit_policies = "drf-burst"

    from django.test import RequestFactory
    from rest_framework.request import Request

    with pytest.raises(ImproperlyConfigured, match="list of policy names"):
        PolicyThrottle().allow_request(Request(RequestFactory().get("/x")), View())
