"""check / acheck / get_usage / reset and the Redis store's behaviour on a real redis-server."""

from __future__ import annotations

import multiprocessing

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_ratelimit_guard import acheck, check, get_usage, reset
from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.signals import request_limited
from django_ratelimit_guard.stores.redis import RedisStore

rf = RequestFactory()


def request(ip="203.0.113.1", method="POST"):
    return rf.generic(method, "/somewhere/", REMOTE_ADDR=ip)


def evalsha_calls(server) -> int:
    return server.client().info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)


def test_check_counts_and_reports_the_decision(redis):
    result = check(request(), "login")
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
    result = check(request(), "login", "api", "burst")
    assert evalsha_calls(redis) - before == 1
    assert [d.policy for d in result.decisions] == ["login", "api", "burst"]
    assert result.policy == "login"
    assert result.remaining == 2


def test_rejected_decision_wins_most_restrictive(redis):
    for _ in range(3):
        check(request(), "login")
    result = check(request(), "login", "api")
    assert not result.allowed
    assert result.policy == "login"
    assert result.retry_after > 0


def test_get_usage_peeks_without_counting(redis):
    check(request(), "login")
    # What is left now: 2 of 3 (issue #13 item 6; it used to answer for a hypothetical next hit).
    assert get_usage(request(), "login").remaining == 2
    assert get_usage(request(), "login").remaining == 2


def test_reset_clears_one_clients_counter_only(redis):
    for _ in range(3):
        check(request("203.0.113.1"), "login")
        check(request("203.0.113.2"), "login")
    reset("login", "203.0.113.1")
    assert check(request("203.0.113.1"), "login").allowed
    assert not check(request("203.0.113.2"), "login").allowed


def test_check_shares_counters_with_the_decorator(client, redis):
    for _ in range(3):
        check(request("127.0.0.1"), "login")
    assert client.post("/login/").status_code == 429


def test_methods_outside_the_policy_are_not_decided(redis):
    assert check(request(method="GET"), "login").decisions == ()


def test_unknown_policy_name_is_a_clear_error(redis):
    with pytest.raises(ImproperlyConfigured, match="nope"):
        check(request(), "nope")


def test_check_without_policies_is_a_type_error(redis):
    with pytest.raises(TypeError):
        check(request())


def test_request_limited_signal_carries_the_decision(redis):
    seen = []

    def receiver(sender, request, decision, **kwargs):
        seen.append(decision)

    request_limited.connect(receiver)
    try:
        for _ in range(4):
            check(request(), "login")
    finally:
        request_limited.disconnect(receiver)
    assert len(seen) == 1
    assert seen[0].policy == "login"
    assert not seen[0].allowed


async def test_acheck_decides_like_check(redis):
    results = [await acheck(request(), "login") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]


def test_cost_consumes_several_units(redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"bulk": {"rate": "10/m", "cost": 4}},
    }
    assert [check(request(), "bulk").remaining for _ in range(2)] == [6, 2]
    assert not check(request(), "bulk").allowed


def test_callable_rate_returning_none_exempts(redis, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "vip": {"rate": lambda r: None if r.META["REMOTE_ADDR"] == "198.51.100.7" else "1/m"}
        },
    }
    assert all(check(request("198.51.100.7"), "vip").allowed for _ in range(3))
    assert check(request(), "vip").allowed
    assert not check(request(), "vip").allowed


def test_script_is_reloaded_after_redis_loses_it(redis):
    assert check(request(), "login").allowed
    redis.client().script_flush()
    assert check(request(), "login").remaining == 1


def test_redis_down_raises_store_unavailable_not_a_redis_error(redis):
    from tests.redis_servers import free_port

    store = RedisStore(
        "down", client=__import__("redis").Redis(port=free_port(), socket_connect_timeout=0.2)
    )
    with pytest.raises(StoreUnavailable) as info:
        store.hit_many([Hit("k", Algorithm.FIXED_WINDOW, 1, 1000, 1, True)])
    assert info.value.reason == "connection"


def test_keys_in_redis_are_hashed_and_hash_tagged(redis):
    check(request("203.0.113.77"), "login")
    (key,) = redis.client().keys("*")
    assert b"203.0.113.77" not in key
    prefix, rest = key.decode().split(":", 1)
    assert prefix == "rlg"
    assert rest.startswith("{")
    assert rest.endswith("}:login:sw")


def _race(url: str, n: int, queue) -> None:  # runs in a child process
    import redis as redis_py

    store = RedisStore("race", client=redis_py.Redis.from_url(url))
    hit = Hit("rlg:{race}:p:fw", Algorithm.FIXED_WINDOW, 100, 600_000, 1, True)
    queue.put(sum(store.hit_many([hit])[0].allowed for _ in range(n)))


def test_eight_processes_racing_on_one_key_admit_exactly_the_limit(redis):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_race, args=(redis.url, 60, queue)) for _ in range(8)]
    for w in workers:
        w.start()
    admitted = sum(queue.get(timeout=60) for _ in workers)
    for w in workers:
        w.join(10)
    assert admitted == 100


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
