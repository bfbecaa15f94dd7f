"""Each key form, end to end through check() on a real redis-server."""

from __future__ import annotations

import pytest
from django.test import AsyncClient, RequestFactory

from django_ratelimit_guard import check
from tests.support.builders import one_policy

rf = RequestFactory()


@pytest.mark.django_db
async def test_sync_callable_key_works_on_an_async_view(redis):
    client = AsyncClient()
    codes = [
        (await client.get("/async-tenant/", headers={"X-Tenant": "acme"})).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


@pytest.mark.django_db
async def test_async_middleware_applies_path_policies(redis):
    client = AsyncClient()
    codes = [(await client.get("/api/items/")).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]


def test_long_key_values_are_counted_but_not_pinned_in_the_key_cache(redis, settings):
    from django_ratelimit_guard.engine import plan

    one_policy(settings, key="header:X-Api-Key")
    plan._cached_storage_key.cache_clear()
    plan._static_hit.cache_clear()
    long_value = "k" * 5000
    assert check(rf.get("/", HTTP_X_API_KEY=long_value), "p").allowed
    assert not check(rf.get("/", HTTP_X_API_KEY=long_value), "p").allowed
    assert plan._cached_storage_key.cache_info().currsize == 0
    assert plan._static_hit.cache_info().currsize == 0


def test_a_key_that_several_policies_share_is_resolved_once_per_request(
    redis, settings, monkeypatch
):
    from tests.support import callables as helpers

    calls: list[object] = []
    real = helpers.tenant_key
    monkeypatch.setattr(
        helpers, "tenant_key", lambda request: calls.append(request) or real(request)
    )
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "a": {"rate": "5/m", "key": "tests.support.callables.tenant_key"},
            "b": {
                "rate": "7/m",
                "key": "tests.support.callables.tenant_key",
                "algorithm": "fixed_window",
            },
            "c": {"rate": "9/m", "key": "ip"},
            "d": {"rate": "11/m", "key": "ip", "algorithm": "token_bucket"},
        },
    }
    request = rf.get("/", HTTP_X_TENANT="acme")
    result = check(request, "a", "b", "c", "d")
    assert calls == [request]
    assert [d.remaining for d in result.decisions] == [4, 6, 8, 10]
    assert check(rf.get("/", HTTP_X_TENANT="other"), "a", "b").decisions[0].remaining == 4


def test_callables_given_as_such_are_each_called_even_with_the_same_name(redis, settings):
    # Two lambdas share a __qualname__; each must still key its own policy.
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "x": {"rate": "5/m", "key": lambda request: "one"},
            "y": {"rate": "5/m", "key": lambda request: None},
        },
    }
    result = check(rf.get("/"), "x", "y")
    assert [d.policy for d in result.decisions] == ["x"]  # y's key returned None: skipped
