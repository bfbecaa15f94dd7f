"""The limiter on the session's Redis Cluster: the policies of its tests (``ON_CLUSTER``, for the
``guarded`` fixture) and where a client's keys live."""

from __future__ import annotations

import pytest
from django_redis import get_redis_connection

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.engine.plan import storage_key
from tests.support.builders import recovering_breaker
from tests.support.redis_cluster import ClusterDeployment

CLUSTER_POLICIES = {
    "sw": {"rate": "100/m", "key": "ip"},
    "tb": {"rate": "50/m", "key": "ip", "algorithm": "token_bucket"},
    "fw": {"rate": "30/m", "key": "ip", "algorithm": "fixed_window", "fail_mode": "memory"},
    "exact": {"rate": "40/h", "key": "ip"},
}

ON_CLUSTER = pytest.mark.guard(CLUSTER_POLICIES, breaker=recovering_breaker(2, 0.3), on="cluster")


def slot_of(ip: str, policy: str = "sw") -> int:
    """The Cluster slot of the client ``ip``'s counter of ``policy``."""
    config = guard_settings()
    key = storage_key(config, config.policies[policy], ip)
    return int(get_redis_connection("ratelimit").keyslot(key))


def ips_on_distinct_masters(cluster: ClusterDeployment) -> dict[int, str]:
    """master port → one client IP whose keys that master serves."""
    found: dict[int, str] = {}
    for i in range(1, 250):
        ip = f"198.51.100.{i}"
        found.setdefault(cluster.master_of_slot(slot_of(ip)).port, ip)
        if len(found) == cluster.masters:
            return found
    raise AssertionError("no IP for every master")
