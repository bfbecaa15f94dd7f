"""Health checks: one cheap ``PING`` to the Redis behind a breaker scope, for
``engine/recovery.py``'s thread (never called on the request path).

Each check opens a fresh connection from the alias's own connection class and arguments (host,
password, TLS, database, ``SOCKET_CONNECT_TIMEOUT`` / ``SOCKET_TIMEOUT``), connects in one attempt
(no retries: a stopped Redis refuses at once, a frozen one costs one timeout), sends ``PING`` and
closes it. A fresh connection tests what a recovering request needs — that a connection can be
made — and leaves the request path's connections alone. Errors leave as raised; the caller
classifies them (``engine/guarded.py`` ``check_health``, through ``errors.py``).

Scopes: a cache alias (its pool's connection), a Redis Cluster shard ``<alias>/<host:port>`` (that
node's pool). Clients whose pool we don't know (Sentinel, custom classes) are checked with their own
``ping()``. A Cluster's alias-wide scope and the ``uncovered`` scope have no single node to ask:
they recover through their probes alone (:func:`pinger` returns None).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_ratelimit_guard.stores.cluster import UNCOVERED, ClusterStore
from django_ratelimit_guard.stores.direct import connect_once, direct_pool
from django_ratelimit_guard.stores.redis import RedisStore

Ping = Callable[[], object]


def ping_pool(pool: Any) -> object:
    """``PING`` on a fresh connection built like ``pool``'s, closed afterwards."""
    conn = pool.connection_class(**pool.connection_kwargs)
    try:
        connect_once(conn)
        conn.send_command("PING")
        return conn.read_response()
    finally:
        conn.disconnect()


def pinger(store: RedisStore | ClusterStore, scope: str) -> Ping | None:
    """The health check of ``scope`` (a scope of ``store``), or None when it has none."""
    if isinstance(store, ClusterStore):
        prefix = f"{store.alias}/"
        if not scope.startswith(prefix) or scope == prefix + UNCOVERED:
            return None
        node = store.client.get_node(node_name=scope[len(prefix) :])
        connection = getattr(node, "redis_connection", None)
        if connection is None:
            return None
        pool = connection.connection_pool
        return lambda: ping_pool(pool)
    client = store.client
    pool = direct_pool(client)
    if pool is None:
        return lambda: client.ping()
    return lambda: ping_pool(pool)


__all__ = ["Ping", "ping_pool", "pinger"]
