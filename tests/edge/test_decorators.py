"""@rate_limit: mistakes caught when the module is imported, and decorated views (named and inline
policies, class-based, async, stacked, shadow) limited end to end on a real redis-server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, RequestFactory
from django.views import View

from django_ratelimit_guard import rate_limit


def view(request):
    return None


def test_misspelt_inline_rate_fails_when_the_module_is_imported():
    with pytest.raises(ImproperlyConfigured, match="5/minute"):
        rate_limit(rate="5/minute", name="bad-rate")(view)


def test_decorator_without_parentheses_is_a_type_error():
    with pytest.raises(TypeError, match="parentheses"):
        rate_limit(view)


def test_name_and_inline_fields_together_are_a_type_error():
    with pytest.raises(TypeError):
        rate_limit("login", rate="5/m")


def test_unknown_field_is_a_type_error():
    with pytest.raises(TypeError, match="colour"):
        rate_limit(rate="5/m", colour="red")


def test_decorating_a_class_names_method_decorator():
    with pytest.raises(TypeError, match="method_decorator"):
        rate_limit(rate="5/m", name="cls")(View)


def test_decorating_a_method_directly_names_method_decorator():
    class Thing:
        @rate_limit(rate="5/m", name="method")
        def get(self, request):
            return None

    with pytest.raises(TypeError, match="method_decorator"):
        Thing().get(RequestFactory().get("/"))


def test_reusing_an_inline_name_with_other_fields_is_an_error():
    rate_limit(rate="5/m", name="reused")(view)
    with pytest.raises(ImproperlyConfigured, match="reused"):
        rate_limit(rate="6/m", name="reused")(view)


def test_login_get_is_not_counted_by_a_post_only_policy(client, redis):
    for _ in range(5):
        response = client.get("/login/")
        assert response.status_code == 200
        assert "RateLimit" not in response


def test_inline_policy_is_named_after_its_view(client, redis):
    client.get("/inline/")
    response = client.get("/inline/")
    # Clients see the view's short name; the dotted name stays internal (issue #13, item 8).
    assert response["RateLimit-Policy"] == '"inline";q=2;w=60'
    assert response.wsgi_request.rate_limit.policy == "tests.support.views.inline"
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


def test_shadow_mode_counts_but_never_rejects(client, redis):
    for _ in range(3):
        response = client.get("/shadow/")
        assert response.status_code == 200
        assert "RateLimit" not in response
    assert response.wsgi_request.rate_limit["shadow"].allowed is False


def test_disabled_guard_limits_nothing(client, redis, settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "ENABLED": False}
    for _ in range(5):
        assert client.get("/inline/").status_code == 200
