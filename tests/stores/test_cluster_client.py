"""The django-redis client class for Redis Cluster: a cluster is still a Django cache alias."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django_redis import get_redis_connection
from redis.cluster import RedisCluster

from django_ratelimit_guard.redis import cluster_kwargs, parse_startup_nodes

pytestmark = pytest.mark.cluster


def test_get_redis_connection_returns_a_redis_cluster(cluster):
    client = get_redis_connection("ratelimit")
    assert isinstance(client, RedisCluster)
    assert {node.port for node in client.get_primaries()} == {
        n.port for n in cluster.masters_by_port()
    }


def test_cache_api_works_across_slots(cluster):
    cache = caches["ratelimit"]
    keys = [f"key-{i}" for i in range(20)]  # spread over the three masters
    cache.set_many({k: i for i, k in enumerate(keys)}, timeout=30)
    assert cache.get("key-3") == 3
    assert cache.get_many(keys) == {k: i for i, k in enumerate(keys)}
    assert cache.incr("key-3") == 4
    assert cache.delete_many(keys[:10]) == 10
    assert cache.get_many(keys[:10]) == {}
    cache.clear()
    assert cache.get("key-15") is None


def test_one_cluster_client_is_shared_by_every_thread(cluster):
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(get_redis_connection("ratelimit")))
    thread.start()
    thread.join()
    assert seen[0] is get_redis_connection("ratelimit")


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:7000", "redis://127.0.0.1", "redis://127.0.0.1:7000/3", [], "redis://:x@/"],
)
def test_bad_startup_node_is_improperly_configured(location):
    with pytest.raises(ImproperlyConfigured):
        parse_startup_nodes(location)


def test_startup_nodes_carry_credentials_and_tls():
    nodes, kwargs = parse_startup_nodes(["rediss://app:s%40cret@10.0.0.1:7000", "10.0.0.2:7001"])
    assert [(n.host, n.port) for n in nodes] == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    assert kwargs == {"ssl": True, "username": "app", "password": "s@cret"}


@pytest.mark.parametrize(
    "options",
    [
        {"SOCKET_TIMEOUT": "fast"},
        {"SOCKET_TIMEOUT": 0},
        {"CONNECTION_POOL_KWARGS": ["max_connections", 5]},
    ],
)
def test_bad_options_are_improperly_configured(options):
    with pytest.raises(ImproperlyConfigured):
        cluster_kwargs(options, {})


def test_options_map_to_redis_cluster_arguments():
    kwargs = cluster_kwargs(
        {
            "SOCKET_TIMEOUT": 0.1,
            "SOCKET_CONNECT_TIMEOUT": 0.05,
            "CONNECTION_POOL_KWARGS": {"max_connections": 7},
        },
        {},
    )
    assert kwargs["socket_timeout"] == 0.1
    assert kwargs["socket_connect_timeout"] == 0.05
    assert kwargs["max_connections"] == 7
    assert kwargs["retry"].get_retries() == 1
