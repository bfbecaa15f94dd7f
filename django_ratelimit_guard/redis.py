"""The documented import path of the Redis Cluster client class::

    "OPTIONS": {"CLIENT_CLASS": "django_ratelimit_guard.redis.ClusterClient", ...}

It lives in ``stores/cluster_client.py``; nothing inside the package imports this module.
"""

from django_ratelimit_guard.stores.cluster_client import (
    ClusterClient,
    cluster_connection,
    cluster_kwargs,
    parse_startup_nodes,
)

__all__ = ["ClusterClient", "cluster_connection", "cluster_kwargs", "parse_startup_nodes"]
