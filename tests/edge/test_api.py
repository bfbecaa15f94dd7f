"""check / acheck / get_usage / reset on a real redis-server."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_ratelimit_guard import acheck, check, get_usage, reset
from tests.support.builders import evalsha_calls, request_from


def test_check_counts_and_reports_the_decision(redis):
    result = check(request_from(), "login")
    assert result.allowed
    assert (result.policy, result.limit, result.remaining, result.source) == (
        "login",
        3,
        2,
        "redis",
    )
    assert 0 < result.reset_after <= 60
    assert result.retry_after == 0


def test_check_of_three_policies_is_one_round_trip_and_reads_as_the_most_restrictive(redis):
    before = evalsha_calls(redis)
    result = check(request_from(), "login", "api", "burst")
    assert evalsha_calls(redis) - before == 1
    assert [d.policy for d in result.decisions] == ["login", "api", "burst"]
    assert result.policy == "login"
    assert result.remaining == 2


def test_rejected_decision_wins_most_restrictive(redis):
    for _ in range(3):
        check(request_from(), "login")
    result = check(request_from(), "login", "api")
    assert not result.allowed
    assert result.policy == "login"
    assert result.retry_after > 0


def test_get_usage_peeks_without_counting(redis):
    check(request_from(), "login")
    # What is left now: 2 of 3 (issue #13 item 6; it used to answer for a hypothetical next hit).
    assert get_usage(request_from(), "login").remaining == 2
    assert get_usage(request_from(), "login").remaining == 2


def test_reset_clears_one_clients_counter_only(redis):
    for _ in range(3):
        check(request_from("203.0.113.1"), "login")
        check(request_from("203.0.113.2"), "login")
    reset("login", "203.0.113.1")
    assert check(request_from("203.0.113.1"), "login").allowed
    assert not check(request_from("203.0.113.2"), "login").allowed


def test_check_shares_counters_with_the_decorator(client, redis):
    for _ in range(3):
        check(request_from("127.0.0.1"), "login")
    assert client.post("/login/").status_code == 429


def test_unknown_policy_name_is_a_clear_error(redis):
    with pytest.raises(ImproperlyConfigured, match="nope"):
        check(request_from(), "nope")


def test_check_without_policies_is_a_type_error(redis):
    with pytest.raises(TypeError):
        check(request_from())


async def test_acheck_decides_like_check(redis):
    results = [await acheck(request_from(), "login") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]


def test_policy_names_are_resolved_anew_after_a_settings_change(redis, settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9")
    assert check(request, "burst").limit == 10
    changed = {**settings.RATELIMIT_GUARD}
    changed["POLICIES"] = {
        **changed["POLICIES"],
        "burst": {**changed["POLICIES"]["burst"], "rate": "1234/h"},
    }
    settings.RATELIMIT_GUARD = changed
    assert check(request, "burst").limit == 1234


def test_an_unhashable_policy_argument_is_still_a_clear_error(redis):
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9")
    with pytest.raises(TypeError, match="named by str"):
        check(request, ["login"])  # type: ignore[arg-type]
