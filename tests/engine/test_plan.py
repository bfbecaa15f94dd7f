"""From a request and its policies to storage hits: which policies apply, at which rate and cost,
to which hashed and hash-tagged key, resolved once — end to end through check() on a real
redis-server."""

from __future__ import annotations

from django.test import RequestFactory

from django_ratelimit_guard import check
from tests.support.builders import one_policy, request_from

rf = RequestFactory()


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
    from tests.support import callables

    calls: list[object] = []
    real = callables.tenant_key
    monkeypatch.setattr(
        callables, "tenant_key", lambda request: calls.append(request) or real(request)
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


def test_keys_in_redis_are_hashed_and_hash_tagged(redis):
    check(request_from("203.0.113.77"), "login")
    (key,) = redis.client().keys("*")
    assert b"203.0.113.77" not in key
    prefix, rest = key.decode().split(":", 1)
    assert prefix == "rlg"
    assert rest.startswith("{")
    assert rest.endswith("}:login:sw")


def test_callable_rate_returning_none_exempts(redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "vip": {"rate": lambda r: None if r.META["REMOTE_ADDR"] == "198.51.100.7" else "1/m"}
        },
    }
    assert all(check(request_from("198.51.100.7"), "vip").allowed for _ in range(3))
    assert check(request_from(), "vip").allowed
    assert not check(request_from(), "vip").allowed


def test_cost_consumes_several_units(redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"bulk": {"rate": "10/m", "cost": 4}},
    }
    assert [check(request_from(), "bulk").remaining for _ in range(2)] == [6, 2]
    assert not check(request_from(), "bulk").allowed


def test_methods_outside_the_policy_are_not_decided(redis):
    assert check(request_from(method="GET"), "login").decisions == ()
