"""A django-redis client class for Redis Cluster, so a cluster is still a Django cache alias.

::

    CACHES["ratelimit"] = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"],   # startup nodes
        "OPTIONS": {
            "CLIENT_CLASS": "django_ratelimit_guard.redis.ClusterClient",
            "SOCKET_CONNECT_TIMEOUT": 0.1,
            "SOCKET_TIMEOUT": 0.1,
        },
    }

``get_redis_connection("ratelimit")`` then returns a :class:`redis.cluster.RedisCluster`, which the
rate-limit store detects (``stores/cluster.py``). django-redis ships no cluster client: its
``DefaultClient`` treats a list LOCATION as primary + read replicas. Here every LOCATION entry is a
startup node of one cluster; the cluster maps itself (``CLUSTER SLOTS``) from whichever answers.

Options honoured, as django-redis names them: ``SOCKET_TIMEOUT``, ``SOCKET_CONNECT_TIMEOUT``,
``USERNAME``, ``PASSWORD`` (or credentials in the URLs), ``CONNECTION_POOL_KWARGS`` (per-node pool
arguments such as ``max_connections``) and ``REDIS_CLIENT_KWARGS`` (passed to ``RedisCluster``, e.g.
``require_full_coverage``, ``retry``). One ``RedisCluster`` is shared per process and configuration:
Django builds a cache client per thread, and each ``RedisCluster`` would otherwise map the cluster
and hold its own pools.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from typing import Any, cast
from urllib.parse import unquote, urlparse

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django_redis.client.default import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError
from redis.retry import Retry

#: By default a command is retried once after a connection error (the client re-reads the slot map
#: in between, so a completed failover is picked up at once). redis-py's own default — several
#: retries with exponential backoff — would hold a request for seconds on a dead shard, where the
#: rate limiter would rather let the breaker of that shard open.
DEFAULT_RETRIES = 1

_clusters: dict[tuple[Any, ...], RedisCluster] = {}
_clusters_lock = threading.Lock()


def parse_startup_nodes(location: str | Sequence[str]) -> tuple[list[ClusterNode], dict[str, Any]]:
    """``redis://[user:password@]host:port`` entries → startup nodes and connection kwargs.

    Raises ImproperlyConfigured naming the first bad entry.
    """
    entries = location.split(",") if isinstance(location, str) else list(location)
    if not entries:
        raise ImproperlyConfigured("A Redis Cluster LOCATION needs at least one startup node URL.")
    nodes: list[ClusterNode] = []
    kwargs: dict[str, Any] = {}
    for raw in entries:
        entry = str(raw).strip()
        url = urlparse(entry if "://" in entry else f"redis://{entry}")
        try:
            port = url.port
        except ValueError:
            port = None
        if url.scheme not in ("redis", "rediss") or not url.hostname or port is None:
            raise ImproperlyConfigured(
                f"Redis Cluster startup node {entry!r} is not 'redis://host:port' (or rediss://)."
            )
        if url.path not in ("", "/", "/0"):
            raise ImproperlyConfigured(
                f"Redis Cluster startup node {entry!r} names database {url.path[1:]!r}; "
                "a cluster has only database 0."
            )
        nodes.append(ClusterNode(url.hostname, port))  # type: ignore[no-untyped-call]
        if url.scheme == "rediss":
            kwargs["ssl"] = True
        if url.username:
            kwargs["username"] = unquote(url.username)
        if url.password:
            kwargs["password"] = unquote(url.password)
    return nodes, kwargs


def cluster_kwargs(options: dict[str, Any], url_kwargs: dict[str, Any]) -> dict[str, Any]:
    """``RedisCluster`` keyword arguments from django-redis style OPTIONS."""
    kwargs: dict[str, Any] = dict(url_kwargs)
    for option, name in (
        ("SOCKET_TIMEOUT", "socket_timeout"),
        ("SOCKET_CONNECT_TIMEOUT", "socket_connect_timeout"),
        ("USERNAME", "username"),
        ("PASSWORD", "password"),
    ):
        value = options.get(option)
        if value is None:
            continue
        if option.startswith("SOCKET") and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
        ):
            raise ImproperlyConfigured(
                f"OPTIONS[{option!r}] must be a positive number of seconds, not {value!r}."
            )
        kwargs[name] = value
    for option in ("CONNECTION_POOL_KWARGS", "REDIS_CLIENT_KWARGS"):
        extra = options.get(option, {})
        if not isinstance(extra, dict):
            raise ImproperlyConfigured(
                f"OPTIONS[{option!r}] must be a dict, not {type(extra).__name__}."
            )
        kwargs.update(extra)
    kwargs.setdefault("retry", Retry(NoBackoff(), DEFAULT_RETRIES))
    return kwargs


def cluster_connection(location: str | Sequence[str], options: dict[str, Any]) -> RedisCluster:
    """The process-wide ``RedisCluster`` for this LOCATION and OPTIONS (created on first use)."""
    nodes, url_kwargs = parse_startup_nodes(location)
    kwargs = cluster_kwargs(options, url_kwargs)
    cache_key = (
        tuple((n.host, n.port) for n in nodes),
        tuple(sorted((k, repr(v)) for k, v in kwargs.items() if k != "retry")),
        # Retry objects don't compare by value; the user's own one is keyed by identity.
        id(kwargs["retry"]) if "retry" in _explicit(options) else DEFAULT_RETRIES,
    )
    client = _clusters.get(cache_key)
    if client is None:
        with _clusters_lock:
            client = _clusters.get(cache_key)
            if client is None:
                client = RedisCluster(startup_nodes=nodes, **kwargs)
                _clusters[cache_key] = client
    return client


def _explicit(options: dict[str, Any]) -> dict[str, Any]:
    extra = options.get("REDIS_CLIENT_KWARGS", {})
    return extra if isinstance(extra, dict) else {}


class ClusterClient(DefaultClient):  # type: ignore[misc]
    """django-redis client class whose raw client is a ``RedisCluster``.

    The cache API works as on one Redis; multi-key operations that Redis Cluster refuses across
    slots (``get_many``) are split per slot.
    """

    def __init__(self, server: str | Sequence[str], params: dict[str, Any], backend: Any) -> None:
        super().__init__(server, params, backend)
        # All LOCATION entries describe one cluster: validate them now, connect lazily.
        parse_startup_nodes(self._server)
        cluster_kwargs(self._options, {})
        self._clients = [None]

    def get_next_client_index(self, write: bool = True, tried: list[int] | None = None) -> int:
        return 0

    def connect(self, index: int = 0) -> RedisCluster:
        try:
            return cluster_connection(self._server, self._options)
        except (RedisError, OSError) as exc:
            # No startup node answered CLUSTER SLOTS; the cache API reports it as an outage.
            raise ConnectionInterrupted(connection=None) from exc

    def disconnect(self, index: int = 0, client: Any = None) -> None:
        # The RedisCluster is shared by every thread of the process: closing it here (django-redis
        # calls this on request_finished with CLOSE_CONNECTION) would pull it from under them.
        return None

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict[str, Any]:
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {self.make_key(k, version=version): k for k in keys}
        try:
            values = client.mget_nonatomic(list(map_keys))
        except (RedisError, OSError) as exc:
            raise ConnectionInterrupted(connection=client) from exc
        return {
            map_keys[k]: self.decode(v)
            for k, v in zip(map_keys, values, strict=True)
            if v is not None
        }

    def delete_many(
        self, keys: Iterable[str], version: int | None = None, client: Any = None
    ) -> int:
        if client is None:
            client = self.get_client(write=True)
        made = [self.make_key(k, version=version) for k in keys]
        if not made:
            return 0
        try:
            # RedisCluster.delete splits the keys per slot itself.
            return int(client.delete(*made))
        except (RedisError, OSError) as exc:
            raise ConnectionInterrupted(connection=client) from exc


def uses_cluster_client(alias: str) -> bool:
    """Whether the cache alias is configured with :class:`ClusterClient` (or a subclass); no I/O."""
    cache = cast("dict[str, Any]", settings.CACHES.get(alias) or {})
    options = cache.get("OPTIONS") or {}
    client_class = options.get("CLIENT_CLASS")
    if client_class is None:
        return False
    if isinstance(client_class, str):
        try:
            client_class = import_string(client_class)
        except ImportError:
            return False  # django-redis itself reports the bad path when the cache is used
    return isinstance(client_class, type) and issubclass(client_class, ClusterClient)


__all__ = [
    "DEFAULT_RETRIES",
    "ClusterClient",
    "cluster_connection",
    "parse_startup_nodes",
    "uses_cluster_client",
]
