"""``get_usage`` reports what is left now (issue #13, item 6), against a real redis-server and
the memory fallback alike."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from django_ratelimit_guard import aget_usage, check, get_usage
from django_ratelimit_guard.stores.fallback import fallback_store

rf = RequestFactory()


def request(ip="203.0.113.9"):
    return rf.post("/somewhere/", REMOTE_ADDR=ip)


def test_after_two_of_three_requests_one_remains_and_the_next_would_pass(redis):
    check(request(), "login")
    check(request(), "login")
    usage = get_usage(request(), "login")
    assert usage.remaining == 1
    assert usage.allowed


def test_after_three_of_three_nothing_remains_and_the_next_would_be_refused(redis):
    for _ in range(3):
        check(request(), "login")
    usage = get_usage(request(), "login")
    assert usage.remaining == 0
    assert not usage.allowed
    assert usage.retry_after > 0


def test_a_fresh_client_has_its_whole_budget(redis):
    assert get_usage(request("203.0.113.200"), "login").remaining == 3


def test_token_bucket_usage_counts_whole_tokens_left_now(redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"bucket": {"rate": "4/h", "algorithm": "token_bucket", "key": "ip"}},
    }
    assert get_usage(request(), "bucket").remaining == 4
    check(request(), "bucket")
    assert get_usage(request(), "bucket").remaining == 3
    assert check(request(), "bucket").remaining == 2  # check still answers after its own hit


def test_usage_in_the_memory_fallback_reports_the_same_way(settings):
    # No Redis at all (the test settings' unreachable port): the breaker opens, memory decides.
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"mem": {"rate": "3/m", "key": "ip", "fail_mode": "memory"}},
        "BREAKER": {"FAILURE_THRESHOLD": 1},
    }
    fallback_store().clear()
    check(request(), "mem")
    check(request(), "mem")
    usage = get_usage(request(), "mem")
    assert usage.source == "memory"
    assert usage.remaining == 1
    assert usage.allowed


@pytest.mark.django_db
async def test_async_usage_reports_what_is_left_now(redis):
    check(request(), "login")
    check(request(), "login")
    usage = await aget_usage(request(), "login")
    assert usage.remaining == 1
