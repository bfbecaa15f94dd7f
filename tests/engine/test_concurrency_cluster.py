"""Concurrency slots on a real 3-master Redis Cluster (issue #15): the slot set shares the
client's hash tag, each client's slots live on the shard that owns its tag, one EVALSHA per
acquire and per release, and the limit is exact under racing threads."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import RequestFactory
from django_redis import get_redis_connection

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.engine import concurrency
from django_ratelimit_guard.engine.breakers import all_breakers
from django_ratelimit_guard.engine.plan import storage_key
from tests.support.redis_cluster import ClusterDeployment

pytestmark = pytest.mark.cluster

rf = RequestFactory()


@pytest.fixture
def slots(settings, cluster: ClusterDeployment) -> ClusterDeployment:  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "CONTROL": {"POLL_SECONDS": 0},
        "POLICIES": {
            "exports": {"concurrency": 2, "key": "ip"},
            "api": {"rate": "100/m", "key": "ip"},
        },
    }
    return cluster


def key_of(ip: str, policy: str = "exports") -> str:
    config = guard_settings()
    return storage_key(config, config.policies[policy], ip)


def ips_on_distinct_masters(cluster: ClusterDeployment) -> dict[int, str]:
    raw = get_redis_connection("ratelimit")
    found: dict[int, str] = {}
    for i in range(1, 250):
        ip = f"198.51.100.{i}"
        found.setdefault(cluster.master_of_slot(raw.keyslot(key_of(ip))).port, ip)
        if len(found) == cluster.masters:
            return found
    raise AssertionError("no IP for every master")


def test_the_slot_set_shares_the_hash_tag_of_the_clients_rate_counters(slots):
    raw = get_redis_connection("ratelimit")
    assert raw.keyslot(key_of("203.0.113.7")) == raw.keyslot(key_of("203.0.113.7", "api"))


def test_each_clients_slots_live_on_its_own_shard_one_evalsha_per_call(slots):
    policy = guard_settings().policies["exports"]
    ips = ips_on_distinct_masters(slots)
    held = []
    for ip in ips.values():  # the first calls load the script on each node
        leases, taken = concurrency.acquire(rf.get("/", REMOTE_ADDR=ip), [policy])
        concurrency.release(leases)
    slots.reset_stats()
    for ip in ips.values():
        leases, taken = concurrency.acquire(rf.get("/", REMOTE_ADDR=ip), [policy])
        assert taken.allowed and taken.source == "redis"
        held.append(leases)
    assert slots.commandstats("evalsha") == dict.fromkeys(ips, 1)
    raw = get_redis_connection("ratelimit")
    assert [raw.zcard(key_of(ip)) for ip in ips.values()] == [1, 1, 1]
    for leases in held:
        concurrency.release(leases)
    assert slots.commandstats("evalsha") == dict.fromkeys(ips, 2)
    assert [raw.zcard(key_of(ip)) for ip in ips.values()] == [0, 0, 0]
    assert {s for s in all_breakers() if "/" in s}  # per-shard breaker scopes were used


def test_racing_threads_never_exceed_the_limit_on_the_cluster(slots):
    policy = guard_settings().policies["exports"]
    request = rf.get("/", REMOTE_ADDR="203.0.113.9")
    raw = get_redis_connection("ratelimit")
    key = key_of("203.0.113.9")
    worst, lock = [0], threading.Lock()
    start = threading.Barrier(8)

    def worker() -> int:
        granted = 0
        start.wait()
        for _ in range(20):
            leases, taken = concurrency.acquire(request, [policy])
            if taken.allowed:
                granted += 1
                held = int(raw.zcard(key))
                with lock:
                    worst[0] = max(worst[0], held)
                time.sleep(0.002)
                concurrency.release(leases)
        return granted

    with ThreadPoolExecutor(8) as pool:
        granted = sum(pool.map(lambda _: worker(), range(8)))
    assert worst[0] <= 2 and granted > 0
    assert raw.zcard(key) == 0


def test_count_when_and_a_rate_override_work_on_the_cluster(slots, settings):
    from django.http import HttpResponse

    from django_ratelimit_guard.core.rates import Rate
    from django_ratelimit_guard.edge import staged
    from django_ratelimit_guard.engine import overrides
    from django_ratelimit_guard.engine.overrides import RATE, Rule, override_key

    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            **settings.RATELIMIT_GUARD["POLICIES"],
            "failed": {"rate": "2/m", "key": "ip", "count_when": [401]},
        },
    }
    policy = guard_settings().policies["failed"]

    def attempt(status: int) -> int:
        request = rf.post("/", REMOTE_ADDR="203.0.113.11")
        return staged.respond(request, [policy], lambda r: HttpResponse(status=status)).status_code

    assert [attempt(200) for _ in range(3)] == [200, 200, 200]  # successes never count
    assert [attempt(401) for _ in range(3)] == [401, 401, 429]

    overrides.install([Rule(1, "api", "203.0.113.12", RATE, Rate(1, 60), None)])
    try:
        from django_ratelimit_guard import check

        request = rf.get("/", REMOTE_ADDR="203.0.113.12")
        assert [check(request, "api").allowed for _ in range(2)] == [True, False]
        raw = get_redis_connection("ratelimit")
        own = override_key(key_of("203.0.113.12", "api"), Rate(1, 60))
        assert raw.exists(own) and raw.keyslot(own) == raw.keyslot(key_of("203.0.113.12"))
    finally:
        overrides.forget()
