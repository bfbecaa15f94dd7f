"""The limiter on a real 3-master + 3-replica Redis Cluster: round trips, per-shard failure
isolation, failover recovery, redirections, NOSCRIPT, concurrency accuracy."""

from __future__ import annotations

import threading
import time

import pytest

from django_ratelimit_guard import check, get_usage
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.engine.breakers import all_breakers, get_breaker
from django_ratelimit_guard.engine.decide import redis_store
from django_ratelimit_guard.engine.limiter import storage_key
from django_ratelimit_guard.stores.cluster import ClusterStore
from tests.support.builders import breaker_settings, recovering_breaker, request_from
from tests.support.cluster import ON_CLUSTER, ips_on_distinct_masters, slot_of
from tests.support.redis_cluster import wait_for

pytestmark = [pytest.mark.cluster, ON_CLUSTER]


def test_three_policies_on_one_client_are_one_evalsha_on_one_node(guarded):
    get_usage(
        request_from("203.0.113.7"), "sw"
    )  # loads the script (a NOSCRIPT is an EVALSHA call too)
    guarded.reset_stats()
    result = check(request_from("203.0.113.7"), "sw", "tb", "fw")
    assert result.allowed and [d.source for d in result.decisions] == ["redis"] * 3
    calls = guarded.commandstats("evalsha")
    assert sorted(calls.values()) == [0, 0, 1]
    assert [d.remaining for d in result.decisions] == [99, 49, 29]


def test_clients_on_three_shards_are_decided_on_their_own_shards(guarded):
    ips = ips_on_distinct_masters(guarded)
    for ip in ips.values():
        get_usage(request_from(ip), "sw")
    guarded.reset_stats()
    for ip in ips.values():
        assert check(request_from(ip), "sw").source == "redis"
    assert guarded.commandstats("evalsha") == dict.fromkeys(ips, 1)


def test_one_request_touching_several_shards_costs_one_evalsha_per_slot(guarded):
    ips = list(ips_on_distinct_masters(guarded).values())
    store = redis_store()
    assert isinstance(store, ClusterStore)
    config = guard_settings()
    from django_ratelimit_guard.core.algorithms import Hit

    policy = config.policies["sw"]
    hits = [
        Hit(storage_key(config, policy, ip), policy.algorithm, 2, 60_000, 1, True) for ip in ips
    ]
    store.hit_many(hits, count=False)  # loads the script on every node
    guarded.reset_stats()
    assert [v.remaining for v in store.hit_many(hits)] == [1, 1, 1]
    assert sum(guarded.commandstats("evalsha").values()) == 3
    assert len(store.route(hits)) == 3


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


def test_moved_and_ask_are_followed_without_touching_any_breaker(guarded):
    ip = "203.0.113.99"
    slot = slot_of(ip)
    check(request_from(ip), "sw")
    source = guarded.master_of_slot(slot)
    target = next(m for m in guarded.masters_by_port() if m.port != source.port)
    src, dst = source.client(), target.client()
    src_id, dst_id = src.execute_command("CLUSTER MYID"), dst.execute_command("CLUSTER MYID")
    dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
    key = storage_key(guard_settings(), guard_settings().policies["sw"], ip)
    src.execute_command("MIGRATE", "127.0.0.1", target.port, key, 0, 2000)
    # Mid-migration: the source answers ASK for the moved key.
    assert check(request_from(ip), "sw").remaining == 98
    for node in guarded.masters_by_port():
        node.client().execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
    # Done: the old owner answers MOVED; the client follows and updates its map.
    result = check(request_from(ip), "sw")
    assert (result.source, result.remaining) == ("redis", 97)
    for breaker in all_breakers().values():
        snapshot = breaker.snapshot()
        assert (snapshot.state.value, snapshot.recent_failures) == ("closed", 0)
    guarded.wait_healthy()


def test_noscript_on_one_node_reloads_the_script_there(guarded):
    ip = "203.0.113.5"
    check(request_from(ip), "sw")
    guarded.master_of_slot(slot_of(ip)).client().script_flush()
    result = check(request_from(ip), "sw", "tb")
    assert [d.source for d in result.decisions] == ["redis", "redis"]
    assert result.decisions[0].remaining == 98
    assert all(b.snapshot().recent_failures == 0 for b in all_breakers().values())


def test_exactly_limit_admitted_under_concurrency_on_the_cluster(guarded):
    allowed = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            result = check(request_from("192.0.2.44"), "exact")
            with lock:
                allowed.append(result.allowed)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(allowed) == 90
    assert sum(allowed) == 40


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
