"""The limiter through Redis Cluster failures: a dead or frozen master degrades only its own
keys, its replica takes over, and the counts memory took are merged back."""

from __future__ import annotations

import time

import pytest

from django_ratelimit_guard import check
from django_ratelimit_guard.engine.breakers import get_breaker
from tests.support.builders import breaker_settings, recovering_breaker, request_from
from tests.support.cluster import ON_CLUSTER, ips_on_distinct_masters, slot_of
from tests.support.redis_cluster import wait_for

pytestmark = [pytest.mark.cluster, ON_CLUSTER]


def test_a_dead_master_degrades_only_its_keys_and_its_replica_takes_over(guarded):
    ips = ips_on_distinct_masters(guarded)
    victim_port, victim_ip = next(iter(ips.items()))
    others = [ip for port, ip in ips.items() if port != victim_port]
    for _ in range(3):
        check(request_from(victim_ip), "exact")
    # The counts are replicated before the crash (WAIT: one replica acknowledged them).
    guarded.node(victim_port).client().execute_command("WAIT", 1, 2000)

    killed_at = time.monotonic()
    killed = guarded.kill_master_of_slot(slot_of(victim_ip, "exact"))
    assert killed.port == victim_port
    # Before the failover (node timeout 1 s): the victim's keys fall back, the others stay on Redis.
    assert check(request_from(victim_ip), "exact").source == "memory"
    for ip in others:
        assert check(request_from(ip), "exact").source == "redis"
    assert time.monotonic() - killed_at < 1.0, "too slow to observe the outage before the failover"
    assert get_breaker(f"ratelimit/127.0.0.1:{victim_port}").snapshot().consecutive_failures >= 1

    promoted_after = guarded.wait_promoted(slot_of(victim_ip, "exact"), killed)
    started = time.monotonic()
    recovered = None

    def back_on_redis() -> bool:
        nonlocal recovered
        recovered = check(request_from(victim_ip), "exact")
        return recovered.source == "redis"

    wait_for(back_on_redis, 15, "the victim's keys back on Redis", interval=0.1)
    print(
        f"failover: promoted after {promoted_after:.2f} s, "
        f"limiter on Redis {time.monotonic() - started:.2f} s later"
    )
    assert recovered is not None
    # The 3 counted before the crash survived on the replica (+ this check, + the memory-decided
    # one merged back when the breaker closed, + the polls that found Redis still away).
    assert recovered.remaining <= 40 - 3 - 1
    new_scope = f"ratelimit/{guarded.master_of_slot(slot_of(victim_ip, 'exact')).name}"
    assert get_breaker(new_scope).state.value == "closed"


def test_a_dead_shard_while_its_breaker_is_open_keeps_the_others_on_redis(guarded, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "BREAKER": breaker_settings(1, 30, 60),
    }
    ips = ips_on_distinct_masters(guarded)
    victim_port, victim_ip = next(iter(ips.items()))
    check(request_from(victim_ip), "fw")  # the slot map is read before the crash
    guarded.node(victim_port).freeze()  # no answer at all: the client can't learn of a failover
    try:
        first = check(request_from(victim_ip), "fw")
        assert first.source == "memory"
        assert get_breaker(f"ratelimit/127.0.0.1:{victim_port}").state.value == "open"
        for port, ip in ips.items():
            result = check(request_from(ip), "fw")
            assert result.source == ("memory" if port == victim_port else "redis")
        assert result.limit == 30
    finally:
        guarded.node(victim_port).thaw()


def test_recovery_of_a_shard_merges_its_memory_counts_back(guarded, settings):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "BREAKER": recovering_breaker(1, 0.2),
    }
    ip = "203.0.113.77"
    check(request_from(ip), "exact")
    victim = guarded.master_of_slot(slot_of(ip, "exact"))
    victim.freeze()  # briefly: thawed well before the 1 s node timeout would start a failover
    try:
        sources = [check(request_from(ip), "exact").source for _ in range(4)]
    finally:
        victim.thaw()
    assert (
        sources[0] == "memory"
    )  # (a frozen node costs one socket timeout, then the breaker is open)
    time.sleep(0.45)  # the open time passes; the next request is the probe that closes it
    result = check(request_from(ip), "exact")
    assert result.source == "redis"
    # 1 before + 4 in memory (merged on recovery) + this one.
    # The probe decided before the merge; the next request sees 1 before + 4 in memory + the
    # probe + itself (+ possibly the timed-out call, which the thawed node still ran).
    after = check(request_from(ip), "exact")
    assert after.source == "redis"
    assert after.remaining in (40 - 1 - 4 - 1 - 1, 40 - 1 - 4 - 1 - 1 - 1)
