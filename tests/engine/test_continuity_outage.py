"""A client's budget is continuous across an outage (issue #16, item 2; ``engine/continuity.py``):
the memory fallback starts each client from what Redis last told this process, recovery merges only
what memory counted, and until every worker can have merged, a client the outage counted stays
held to this worker's share. Real redis-server; the outage is a store that raises."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import RequestFactory

from django_ratelimit_guard import check
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.engine import continuity
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.engine.plan import storage_key
from django_ratelimit_guard.engine.registry import get_policy
from django_ratelimit_guard.stores import answers
from django_ratelimit_guard.stores.fallback import fallback_store
from django_ratelimit_guard.stores.redis import RedisStore

rf = RequestFactory()
IP = "198.51.100.9"


@pytest.fixture
def four_workers(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "sw": {"rate": "100/m", "key": "ip"},
            "fw": {"rate": "100/m", "key": "ip", "algorithm": "fixed_window"},
            "tb": {"rate": "100/m", "key": "ip", "algorithm": "token_bucket"},
            "own": {"rate": "100/m", "key": "ip", "fallback_rate": "40/m"},
        },
        "BREAKER": {
            "FAILURE_THRESHOLD": 1,
            "RESET_TIMEOUT": 0.05,
            "MAX_RESET_TIMEOUT": 30,
            "JITTER": 0.0,
            "SUCCESS_THRESHOLD": 1,
            "SLOW_CALL_SECONDS": 1.0,
        },
        "FALLBACK": {"WORKERS": 4},
    }
    return redis


def request(ip: str = IP):  # type: ignore[no-untyped-def]
    return rf.get("/", REMOTE_ADDR=ip)


def use(policy: str, n: int, ip: str = IP) -> list[Any]:
    return [check(request(ip), policy) for _ in range(n)]


def down(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def unavailable(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("down", scope=self.scope, reason="connection")

    monkeypatch.setattr(RedisStore, "hit_many", unavailable)


def admitted(results: list[Any]) -> int:
    return sum(1 for r in results if r.allowed)


def redis_count(server, policy: str) -> int:  # type: ignore[no-untyped-def]
    key = storage_key(guard_settings(), get_policy(policy), IP)
    return int(server.client().hget(key, "c") or 0)


@pytest.mark.parametrize("policy", ["sw", "fw", "tb"])
def test_a_client_that_used_most_of_its_budget_starts_the_outage_with_its_share_of_the_rest(
    four_workers, monkeypatch, policy
):
    assert admitted(use(policy, 60)) == 60  # 40 of 100 left in Redis
    with monkeypatch.context() as patch:
        down(patch)
        during = use(policy, 30)
    # ceil(40 / 4 workers) = 10 in this worker, not ceil(100 / 4) = 25
    assert [r.source for r in during] == ["memory"] * 30
    assert admitted(during) == 10


def test_a_client_redis_never_answered_here_starts_with_the_whole_share(four_workers, monkeypatch):
    with monkeypatch.context() as patch:
        down(patch)
        assert admitted(use("sw", 30)) == 25


def test_an_answer_whose_window_has_turned_over_is_not_carried(four_workers, monkeypatch):
    use("fw", 60)
    with monkeypatch.context() as patch:
        patch.setattr(answers, "clock", lambda: time.monotonic() + 3600)  # an hour later
        down(patch)
        assert admitted(use("fw", 30)) == 25


def test_a_policys_own_fallback_rate_gets_the_same_fraction(four_workers, monkeypatch):
    use("own", 75)  # a quarter of 100 left
    with monkeypatch.context() as patch:
        down(patch)
        assert admitted(use("own", 30)) == 10  # a quarter of its 40/m fallback rate


def test_a_blocked_client_stays_blocked_through_the_outage(four_workers, monkeypatch):
    assert admitted(use("fw", 101)) == 100
    with monkeypatch.context() as patch:
        down(patch)
        assert admitted(use("fw", 5)) == 0


def test_recovery_merges_only_what_memory_counted(four_workers, monkeypatch):
    use("sw", 60)
    with monkeypatch.context() as patch:
        down(patch)
        use("sw", 30)  # 10 admitted in memory
    time.sleep(0.08)  # past RESET_TIMEOUT: the next request probes, merging first
    check(request("198.51.100.200"), "sw")
    assert get_breaker("ratelimit").state is BreakerState.CLOSED
    assert redis_count(four_workers, "sw") == 70  # 60 before, 10 during: the seed not again
    assert fallback_store().export_unmerged() == []


def test_after_recovery_a_worker_holds_the_client_to_its_share_until_others_can_merge(
    four_workers, monkeypatch
):
    """Redis does not know yet what the other three workers admitted during the outage: this one
    must not hand the client the 30 that Redis alone would still allow."""
    use("sw", 60)
    with monkeypatch.context() as patch:
        down(patch)
        use("sw", 30)
    time.sleep(0.08)
    evalsha_before = four_workers.client().info("commandstats")["cmdstat_evalsha"]["calls"]
    after = use("sw", 5)
    assert [(r.allowed, r.source) for r in after] == [(False, "memory")] * 5
    assert redis_count(four_workers, "sw") == 70  # Redis was asked to peek: nothing counted
    assert four_workers.client().info("commandstats")["cmdstat_evalsha"]["calls"] > evalsha_before


def test_the_hold_ends_once_every_worker_can_have_merged(four_workers, monkeypatch):
    use("sw", 60)
    with monkeypatch.context() as patch:
        down(patch)
        use("sw", 30)
    time.sleep(0.08)
    check(request("198.51.100.200"), "sw")  # the probe: merged, closed
    hold = guard_settings().breaker.max_reset_timeout  # JITTER 0 in these tests
    with monkeypatch.context() as patch:
        patch.setattr(answers, "clock", lambda: time.monotonic() + hold + 1)
        result = check(request(), "sw")
    assert (result.allowed, result.source) == (True, "redis")
    assert redis_count(four_workers, "sw") == 71


def test_while_held_an_allowed_request_counts_in_both_and_is_not_merged_again(
    four_workers, monkeypatch
):
    use("sw", 10)  # 90 left: a share of 23
    with monkeypatch.context() as patch:
        down(patch)
        use("sw", 3)
    time.sleep(0.08)
    assert continuity.hold_until > answers.clock()
    assert all(r.allowed and r.source == "redis" for r in use("sw", 4))
    assert redis_count(four_workers, "sw") == 10 + 3 + 4
    assert fallback_store().export_unmerged() == []  # the 4 are Redis's already
