"""Exact local denials (issue #14): a client Redis denied is answered without a Redis command until
its retry time — and never when Redis would allow it. Real redis-server; a fake clock for time."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from django_ratelimit_guard import acheck, check, get_usage, reset
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine import local
from django_ratelimit_guard.stores import answers

pytestmark = pytest.mark.usefixtures("inside_one_minute")


rf = RequestFactory()
IP = "203.0.113.7"

POLICIES = {
    "login": {"rate": "2/m", "key": "ip"},
    "wide": {"rate": "100/m", "key": "ip"},
    "bucket": {"rate": "10/m", "key": "ip", "algorithm": "token_bucket"},
    "fixed": {"rate": "2/m", "key": "ip", "algorithm": "fixed_window"},
    "shadow": {"rate": "1/m", "key": "ip", "block": False},
}


class Clock:
    """Monotonic seconds the test moves by hand (what answers.clock reads)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:  # type: ignore[no-untyped-def]
    fake = Clock()
    monkeypatch.setattr(answers, "clock", fake)
    return fake


@pytest.fixture
def limits(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "POLICIES": POLICIES}
    return redis


def request(ip: str = IP):  # type: ignore[no-untyped-def]
    return rf.get("/anything/", REMOTE_ADDR=ip)


def evalshas(server) -> int:  # type: ignore[no-untyped-def]
    """decide.lua's runs: every one reads the clock (TIME); nothing else of ours does."""
    return server.client().info("commandstats").get("cmdstat_time", {}).get("calls", 0)


#: What decide.lua runs (reads, writes, the clock). The most-limited-clients table flushes its
#: tally once a second at most (its own EVALSHA and sorted-set commands): not a decision.
DECISION_COMMANDS = ("evalsha", "time", "get", "hmget", "set", "hset", "pexpire")


def commands(server) -> int:  # type: ignore[no-untyped-def]
    """Redis commands a decision would run, counted by Redis itself (``INFO commandstats``),
    less one EVALSHA per flush of the most-limited-clients table (one ZINCRBY or ZADD each)."""
    stats = server.client().info("commandstats")
    calls = sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in DECISION_COMMANDS)
    flushes = stats.get("cmdstat_expire", {}).get("calls", 0)  # top_clients.lua ends with one
    return int(calls - flushes)


@pytest.fixture
def denials(subscribe) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    subscribe(bus.local_denial, seen.append)
    return seen


def test_a_blocked_clients_next_requests_are_denied_without_a_redis_command(limits, clock, denials):
    for _ in range(2):
        assert check(request(), "login").allowed
    first = check(request(), "login")  # Redis denies: remembered
    assert not first.allowed and first.source == "redis"
    before = commands(limits)
    for _ in range(20):
        again = check(request(), "login")
        assert not again.allowed
        assert again.source == "redis"  # Redis's own verdict, remembered
        assert (again.limit, again.remaining) == (2, 0)
        assert again.retry_after == first.retry_after  # the clock did not move
    assert commands(limits) == before
    assert denials == ["login"] * 20


def test_retry_after_and_reset_count_down_with_the_clock(limits, clock):
    for _ in range(3):
        first = check(request(), "login")
    clock.now += 1.5
    later = check(request(), "login")
    assert later.retry_after == pytest.approx(first.retry_after - 1.5, abs=0.002)
    assert later.reset_after == pytest.approx(first.reset_after - 1.5, abs=0.002)


def test_once_the_retry_time_has_come_redis_is_asked_again(limits, clock):
    for _ in range(3):
        first = check(request(), "login")
    clock.now += first.retry_after  # the deadline (with its margin) has passed
    before = evalshas(limits)
    check(request(), "login")
    assert evalshas(limits) == before + 1


def test_a_denial_is_never_served_after_redis_would_allow_the_request(limits, clock):
    """The deadline ends early (margins), never late: at Redis's own retry time, Redis decides."""
    for _ in range(3):
        first = check(request(), "fixed")
    retry_ms = first.retry_after * 1000
    clock.now += (retry_ms * (1 - local.RATE_MARGIN) - local.MARGIN_MS) / 1000 + 1e-6
    before = evalshas(limits)
    check(request(), "fixed")
    assert evalshas(limits) == before + 1


def test_the_429_through_the_middleware_carries_retry_after_and_ratelimit_fields(
    client, settings, redis, clock
):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"api": {"rate": "2/m", "key": "ip", "paths": ["/api/"]}},
    }
    for _ in range(3):
        first = client.get("/api/items/")
    before = commands(redis)
    clock.now += 2.0
    local_429 = client.get("/api/items/")
    assert commands(redis) == before
    assert local_429.status_code == 429
    assert int(local_429["Retry-After"]) == int(first["Retry-After"]) - 2
    assert local_429["RateLimit-Policy"] == '"api";q=2;w=60'
    assert local_429["RateLimit"].startswith('"api";r=0;t=')


def test_all_or_nothing_a_local_denial_counts_nothing_in_the_other_policies(limits, clock):
    for _ in range(2):
        check(request(), "login", "wide")
    assert not check(request(), "login", "wide").allowed  # Redis: login denies, wide uncounted
    wide_before = get_usage(request(), "wide").remaining  # what is left now (issue #13 item 6)
    before = commands(limits)
    result = check(request(), "login", "wide")
    assert commands(limits) == before
    assert not result.allowed and result.policy == "login"
    # wide: what Redis answered for it on the last request it decided (which it did not count):
    # a check's answer, what would be left once this request is counted (cost 1)
    assert result["wide"].allowed and result["wide"].remaining == wide_before - 1
    clock.now += 200  # past every deadline: ask Redis what it holds
    assert get_usage(request(), "wide").remaining == wide_before  # counted nothing


def test_other_policies_without_a_current_answer_send_the_request_to_redis(limits, clock):
    for _ in range(3):
        check(request(), "login")
    before = evalshas(limits)
    result = check(request(), "login", "bucket")  # bucket: never answered for this client
    assert evalshas(limits) == before + 1
    assert not result.allowed
    # Now both are remembered: the next one stays local.
    check(request(), "login", "bucket")
    assert evalshas(limits) == before + 1


def test_a_shadow_policy_never_denies_locally(limits, clock):
    for _ in range(3):
        result = check(request(), "shadow")
    assert result.allowed and not result.decisions[0].allowed  # over, but shadow
    before = evalshas(limits)
    for _ in range(3):
        check(request(), "shadow")
    assert evalshas(limits) == before + 3


def cost_from_header(request) -> int:  # type: ignore[no-untyped-def]
    return int(request.headers.get("X-Cost", "1"))


def test_a_denial_for_one_cost_does_not_deny_another(settings, limits, clock):
    """Token bucket 10/m (one token per 6 s): after a cost-8 request, a cost-5 request is denied
    (and denied again from memory), while a cost-1 request still fits — Redis is asked."""
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "priced": {
                "rate": "10/m",
                "key": "ip",
                "algorithm": "token_bucket",
                "cost": cost_from_header,
            }
        },
    }

    def priced(cost: int):  # type: ignore[no-untyped-def]
        return check(rf.get("/", REMOTE_ADDR=IP, HTTP_X_COST=str(cost)), "priced")

    assert priced(8).allowed
    assert not priced(5).allowed  # Redis denies
    before = evalshas(limits)
    assert not priced(5).allowed  # the same hit: from memory
    assert evalshas(limits) == before
    assert priced(1).allowed  # another cost: Redis, which allows it
    assert evalshas(limits) == before + 1


def test_a_peek_at_a_blocked_client_is_answered_from_memory(limits, clock, denials):
    for _ in range(3):
        check(request(), "login")
    before = commands(limits)
    usage = get_usage(request(), "login")
    assert commands(limits) == before
    assert not usage.allowed and usage.remaining == 0
    assert denials == []  # a peek denies no request


def test_reset_forgets_the_remembered_denial(limits, clock):
    for _ in range(3):
        check(request(), "login")
    reset("login", IP)
    assert check(request(), "login").allowed


def test_an_operator_reset_published_on_the_bus_forgets_the_denial(limits, clock):
    from django_ratelimit_guard.conf.settings import guard_settings
    from django_ratelimit_guard.engine.plan import storage_key
    from django_ratelimit_guard.engine.registry import get_policy
    from django_ratelimit_guard.ops import install

    install.install()  # the subscribers, as apps.ready() wires them
    for _ in range(3):
        check(request(), "login")
    key = storage_key(guard_settings(), get_policy("login"), IP)
    limits.client().delete(key)  # another process reset Redis...
    bus.client_reset.publish("login", key)  # ...and told every process
    assert check(request(), "login").allowed


def test_other_clients_are_not_affected(limits, clock):
    for _ in range(3):
        check(request(), "login")
    assert check(request("203.0.113.8"), "login").allowed


def test_local_denials_off_asks_redis_every_time(settings, limits, clock):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "LOCAL_DENIALS": False}
    for _ in range(3):
        check(request(), "login")
    before = evalshas(limits)
    for _ in range(4):
        assert not check(request(), "login").allowed
    assert evalshas(limits) == before + 4


async def test_async_checks_deny_a_blocked_client_without_redis(limits, clock):
    for _ in range(3):
        await acheck(request(), "login")
    before = commands(limits)
    result = await acheck(request(), "login")
    assert not result.allowed
    assert commands(limits) == before


def test_each_policy_counts_in_the_local_denials_metric(limits, clock):
    from prometheus_client import REGISTRY

    from django_ratelimit_guard.ops import install

    install.install()

    def value() -> float:
        sample = REGISTRY.get_sample_value(
            "ratelimit_guard_local_denials_total", {"policy": "fixed"}
        )
        return sample or 0.0

    for _ in range(3):
        check(request(), "fixed")
    before = value()
    for _ in range(4):
        check(request(), "fixed")
    assert value() == before + 4
