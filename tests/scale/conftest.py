"""Fixtures of the scale suite: a real 3-master + 3-replica Redis Cluster and a Sentinel group,
each built once per session on free loopback ports and always torn down.

Tests that break a deployment (kill a master) restore it before they return, so the next test
starts from a healthy cluster; they never assume which port is a master.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_ratelimit_guard.conf.settings import reset_all
from tests.redis_cluster import ClusterDeployment, SentinelGroup


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterDeployment]:
    deployment = ClusterDeployment(masters=3, replicas=1)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.close()


@pytest.fixture(scope="session")
def sentinel_group() -> Iterator[SentinelGroup]:
    group = SentinelGroup(
        service="rlgmaster",
        replicas=1,
        sentinels=3,
        quorum=2,
        down_after_ms=1000,
        failover_timeout_ms=3000,
    )
    try:
        group.start()
        yield group
    finally:
        group.close()


def cluster_cache(deployment: ClusterDeployment, **options: Any) -> dict[str, Any]:
    """A django-redis cache alias on the cluster, through our client class."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": deployment.startup_nodes,
        "OPTIONS": {
            "CLIENT_CLASS": "django_ratelimit_guard.redis.ClusterClient",
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
            **options,
        },
    }


def sentinel_cache(group: SentinelGroup) -> dict[str, Any]:
    """django-redis's own Sentinel configuration, unchanged."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://{group.service}/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": group.sentinel_addresses,
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
        },
    }


@pytest.fixture
def cluster(settings, redis_cluster: ClusterDeployment) -> Iterator[ClusterDeployment]:  # type: ignore[no-untyped-def]
    """Point the rate-limit alias at the session's cluster, emptied and healthy for this test."""
    redis_cluster.restore()
    redis_cluster.flush()
    settings.CACHES = {**settings.CACHES, "ratelimit": cluster_cache(redis_cluster)}
    reset_all()
    yield redis_cluster
    reset_all()


@pytest.fixture
def sentinel(settings, sentinel_group: SentinelGroup) -> Iterator[SentinelGroup]:  # type: ignore[no-untyped-def]
    sentinel_group.restore()
    sentinel_group.server(sentinel_group.current_master_port()).flush()
    settings.CACHES = {**settings.CACHES, "ratelimit": sentinel_cache(sentinel_group)}
    reset_all()
    yield sentinel_group
    reset_all()
