"""Exact local denials on a real Redis Cluster (issue #14): each shard's answers are remembered
like a single Redis's, so a client blocked on any shard is denied without a command to any node;
clients on other shards are unaffected."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django_redis import get_redis_connection

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.engine.plan import storage_key
from tests.support.redis_cluster import ClusterDeployment

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("inside_one_minute")]

rf = RequestFactory()


@pytest.fixture
def tight(settings, cluster: ClusterDeployment) -> ClusterDeployment:  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": {
            "tight": {"rate": "2/m", "key": "ip"},
            "wide": {"rate": "100/m", "key": "ip", "algorithm": "fixed_window"},
        },
    }
    return cluster


def request(ip: str):  # type: ignore[no-untyped-def]
    return rf.get("/x/", REMOTE_ADDR=ip)


def decisions_run(cluster: ClusterDeployment) -> int:
    """decide.lua runs on every master (each reads the server clock once; nothing else does)."""
    return sum(cluster.commandstats("time").values())


def ip_per_master(cluster: ClusterDeployment) -> dict[int, str]:
    config = guard_settings()
    found: dict[int, str] = {}
    for i in range(1, 250):
        ip = f"198.51.100.{i}"
        slot = get_redis_connection("ratelimit").keyslot(
            storage_key(config, config.policies["tight"], ip)
        )
        found.setdefault(cluster.master_of_slot(int(slot)).port, ip)
        if len(found) == cluster.masters:
            return found
    raise AssertionError("no address for every master")


def test_a_client_blocked_on_any_shard_is_denied_without_a_command_to_any_node(tight):
    blocked = ip_per_master(tight)
    for ip in blocked.values():
        for _ in range(3):
            check(request(ip), "tight", "wide")  # the third: Redis denies, remembered
    before = decisions_run(tight)
    for ip in blocked.values():
        for _ in range(5):
            result = check(request(ip), "tight", "wide")
            assert not result.allowed and result.policy == "tight"
            assert result["wide"].allowed  # all or nothing: wide counted nothing
    assert decisions_run(tight) == before
    # A client of the same shards that is not blocked still goes to Redis and is allowed.
    assert check(request("203.0.113.99"), "tight").allowed
    assert decisions_run(tight) == before + 1


async def test_acheck_on_the_cluster_denies_a_blocked_client_from_memory(tight):
    ip = next(iter(ip_per_master(tight).values()))
    for _ in range(3):
        await acheck(request(ip), "tight")
    before = decisions_run(tight)
    assert not (await acheck(request(ip), "tight")).allowed
    assert decisions_run(tight) == before
