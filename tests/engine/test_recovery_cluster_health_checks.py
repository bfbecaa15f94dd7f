"""Health checks under Redis Cluster: each shard scope is checked on its own node, so a frozen
master fails its check while the others pass (engine/recovery.py, stores/health.py)."""

from __future__ import annotations

import pytest

from django_ratelimit_guard.engine import decide, recovery
from django_ratelimit_guard.stores.cluster import UNCOVERED, ClusterStore
from tests.support.redis_cluster import ClusterDeployment

pytestmark = pytest.mark.cluster


def test_each_shard_is_checked_on_its_own_node(cluster: ClusterDeployment) -> None:
    store = decide.redis_store()
    assert isinstance(store, ClusterStore)
    primaries = store.client.get_primaries()
    scopes = {node.port: store.shard_scope(node) for node in primaries}
    assert len(scopes) == 3
    assert {scope: recovery.check_scope(scope) for scope in scopes.values()} == dict.fromkeys(
        scopes.values()
    )
    victim_port = sorted(scopes)[0]
    victim = cluster.node(victim_port)
    victim.freeze()
    try:
        outcomes = {port: recovery.check_scope(scope) for port, scope in scopes.items()}
    finally:
        victim.thaw()
    assert outcomes.pop(victim_port) == "timeout"
    assert set(outcomes.values()) == {None}  # the other shards answer


def test_scopes_without_a_single_node_have_no_health_check(cluster: ClusterDeployment) -> None:
    store = decide.redis_store()
    assert isinstance(store, ClusterStore)
    assert recovery.check_scope(f"{store.alias}/{UNCOVERED}") == "no health check"
    assert recovery.check_scope(store.alias) == "no health check"
