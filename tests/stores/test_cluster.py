"""The Redis Cluster store on a real 3-master + 3-replica cluster: one EVALSHA per slot, each on
its own shard, redirections followed, NOSCRIPT reloaded per node, exact under concurrency.
(Failures of the cluster: tests/system/test_cluster.py.)"""

from __future__ import annotations

import threading

import pytest

from django_ratelimit_guard import check, get_usage
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.engine.breakers import all_breakers
from django_ratelimit_guard.engine.decide import redis_store
from django_ratelimit_guard.engine.limiter import storage_key
from django_ratelimit_guard.stores.cluster import ClusterStore
from tests.support.builders import hit, request_from
from tests.support.cluster import ON_CLUSTER, ips_on_distinct_masters, slot_of

pytestmark = [pytest.mark.cluster, ON_CLUSTER]


def test_three_policies_on_one_client_are_one_evalsha_on_one_node(guarded):
    # Loads the script (a NOSCRIPT is an EVALSHA call too).
    get_usage(request_from("203.0.113.7"), "sw")
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


def test_across_slots_a_rejected_request_may_still_be_counted_but_never_admits_more(guarded):
    store = redis_store()
    assert isinstance(store, ClusterStore)
    now = 1_700_000_000_000
    tight, loose = hit("a", limit=1), hit("b", limit=10)  # two clients' keys: two hash tags
    assert store.client.keyslot(tight.key) != store.client.keyslot(loose.key)
    store.hit_many([tight, loose], now_ms=now)
    for _ in range(3):
        verdicts = store.hit_many([tight, loose], now_ms=now)
        assert [v.allowed for v in verdicts] == [False, True]  # never a second on the tight one
    # Each slot's script ran on its own: the three rejected requests were counted on the other
    # slot. 10 - 4 - this request = 5 left; on one slot it would be 8 (test_contract.py).
    assert store.hit_many([loose], now_ms=now)[0].remaining == 5
