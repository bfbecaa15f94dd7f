"""Each key form, end to end through check() on a real redis-server."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import AsyncClient, RequestFactory

from django_ratelimit_guard import check

rf = RequestFactory()


class User:
    is_authenticated = True

    def __init__(self, pk):
        self.pk = pk


def policies(settings, **policy):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"p": {"rate": "1/m", **policy}},
    }


def with_user(request, user):
    request.user = user
    return request


def test_user_key_counts_per_user_and_skips_anonymous(redis, settings):
    policies(settings, key="user")
    assert check(with_user(rf.get("/"), User(1)), "p").allowed
    assert not check(with_user(rf.get("/"), User(1)), "p").allowed
    assert check(with_user(rf.get("/"), User(2)), "p").allowed
    anonymous = check(with_user(rf.get("/"), AnonymousUser()), "p")
    assert anonymous.allowed and anonymous.decisions == ()


def test_user_or_ip_separates_a_user_from_their_address(redis, settings):
    policies(settings, key="user_or_ip")
    assert check(with_user(rf.get("/", REMOTE_ADDR="198.51.100.3"), User(7)), "p").allowed
    assert check(with_user(rf.get("/", REMOTE_ADDR="198.51.100.3"), AnonymousUser()), "p").allowed
    assert not check(with_user(rf.get("/", REMOTE_ADDR="198.51.100.9"), User(7)), "p").allowed


def test_header_key_counts_per_value_and_a_missing_header_is_one_shared_bucket(redis, settings):
    policies(settings, key="header:X-Api-Key")
    assert check(rf.get("/", HTTP_X_API_KEY="a"), "p").allowed
    assert not check(rf.get("/", HTTP_X_API_KEY="a"), "p").allowed
    assert check(rf.get("/", HTTP_X_API_KEY="b"), "p").allowed
    assert check(rf.get("/"), "p").allowed
    assert not check(
        rf.get("/", REMOTE_ADDR="198.51.100.200"), "p"
    ).allowed  # omitting it is no way out


def test_param_key_reads_get_then_post(redis, settings):
    policies(settings, key="param:username")
    assert check(rf.get("/?username=ann"), "p").allowed
    assert not check(rf.post("/", {"username": "ann"}), "p").allowed
    assert check(rf.post("/", {"username": "bob"}), "p").allowed


def test_api_key_key_uses_the_verified_key_id(redis, settings):
    policies(settings, key="api_key")
    request = rf.get("/")
    assert (
        check(request, "p").decisions == ()
    )  # unsigned: skipped (the signing middleware rejects it)
    request.api_key_id = "partner-1"
    assert check(request, "p").allowed and not check(request, "p").allowed


def test_callable_and_dotted_path_keys(redis, settings):
    policies(settings, key="tests.support.callables.tenant_key")
    assert check(rf.get("/", HTTP_X_TENANT="acme"), "p").allowed
    assert not check(rf.get("/", HTTP_X_TENANT="acme"), "p").allowed
    assert check(rf.get("/"), "p").decisions == ()  # the callable returned None: skipped


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

    policies(settings, key="header:X-Api-Key")
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
