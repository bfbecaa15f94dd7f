"""Builders the tests share: cache aliases, ``RATELIMIT_GUARD`` and its sections, hits, requests,
users, and what a test reads back (check ids, breaker states, Redis statistics)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.test import RequestFactory

from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.edge.checks import check_settings
from django_ratelimit_guard.engine.breakers import get_breaker
from tests.support.redis_cluster import ClusterDeployment, SentinelGroup
from tests.support.redis_servers import RedisServer, free_port

# -- cache aliases -----------------------------------------------------------------------------


def redis_cache(url: str, timeout: float = 0.2) -> dict[str, Any]:
    """A django-redis cache alias on ``url``, with ``timeout`` s to connect and per command."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": timeout, "SOCKET_TIMEOUT": timeout},
    }


def unreachable_cache() -> dict[str, Any]:
    """A django-redis cache alias on a loopback port nothing listens on: connections are refused."""
    return redis_cache(f"redis://127.0.0.1:{free_port()}/0")


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


# -- RATELIMIT_GUARD ---------------------------------------------------------------------------

#: The smallest valid RATELIMIT_GUARD: the cache alias, nothing else.
ALIAS_ONLY = {"CACHE_ALIAS": "ratelimit"}


def breaker_settings(
    failure_threshold: int,
    reset_timeout: float,
    max_reset_timeout: float | None = None,
    *,
    jitter: float = 0.0,
    **fields: float,
) -> dict[str, float]:
    """``RATELIMIT_GUARD['BREAKER']``: the failure threshold and open times a test is about, no
    jitter unless asked (open times are then exact), any other field by lowercase name
    (``success_threshold=1`` -> ``"SUCCESS_THRESHOLD": 1``). Fields not given keep their
    defaults (``max_reset_timeout`` too, when None)."""
    given: dict[str, float | None] = {
        "failure_threshold": failure_threshold,
        "reset_timeout": reset_timeout,
        "max_reset_timeout": max_reset_timeout,
        "jitter": jitter,
        **fields,
    }
    return {name.upper(): value for name, value in given.items() if value is not None}


def recovering_breaker(
    failure_threshold: int, reset_timeout: float, **fields: float
) -> dict[str, float]:
    """A breaker that recovers quickly and predictably: it opens after ``failure_threshold``
    failures for ``reset_timeout`` s (at most twice that after failed probes), one successful
    probe closes it, and only a call over 2 s counts as slow (shared CI machines)."""
    return breaker_settings(
        failure_threshold,
        reset_timeout,
        2 * reset_timeout,
        **{"success_threshold": 1, "slow_call_seconds": 2.0, **fields},
    )


def guard_config(
    policies: dict[str, dict[str, Any]],
    *,
    breaker: dict[str, float] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A whole ``RATELIMIT_GUARD`` on the ``ratelimit`` alias: the policies, the breaker, and
    any other section by lowercase name (``fallback={"WORKERS": 2}``)."""
    config: dict[str, Any] = {"CACHE_ALIAS": "ratelimit", "POLICIES": policies}
    if breaker is not None:
        config["BREAKER"] = breaker
    config.update({name.upper(): value for name, value in sections.items()})
    return config


def one_policy(settings: Any, **policy: Any) -> None:
    """The test settings' ``RATELIMIT_GUARD`` with a single policy, ``"p"``: 1/m plus ``policy``."""
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"p": {"rate": "1/m", **policy}},
    }


#: The bearer token the metrics view tests configure.
METRICS_TOKEN = "metrics-token-0123456789abcdef"


def metrics_settings(settings: Any, **section: Any) -> None:
    """``RATELIMIT_GUARD`` with only its cache alias and this ``METRICS`` section."""
    settings.RATELIMIT_GUARD = {**ALIAS_ONLY, "METRICS": section}


# -- hits, requests, users ---------------------------------------------------------------------


def hit(
    name: str = "k",
    algorithm: Algorithm = Algorithm.FIXED_WINDOW,
    limit: int = 3,
    window_ms: int = 60_000,
    cost: int = 1,
    block: bool = True,
    *,
    tag: str | None = None,
) -> Hit:
    """A storage hit keyed as the limiter keys them: ``rlg:{<name>}:p:<algorithm>``, or
    ``rlg:{<tag>}:<name>:<algorithm>`` — several policies of one client, one Cluster slot."""
    key = (
        f"rlg:{{{name}}}:p:{algorithm.code}"
        if tag is None
        else f"rlg:{{{tag}}}:{name}:{algorithm.code}"
    )
    return Hit(key, algorithm, limit, window_ms, cost, block)


_factory = RequestFactory()


def request_from(ip: str = "203.0.113.1", method: str = "POST", path: str = "/x/") -> HttpRequest:
    """A request from client address ``ip``, as ``check()`` sees it."""
    return _factory.generic(method, path, REMOTE_ADDR=ip)


class FakeUser:
    """A stand-in for ``request.user``: a primary key, authenticated or not."""

    def __init__(self, pk: int = 1, *, authenticated: bool = True) -> None:
        self.pk = pk
        self.is_authenticated = authenticated


# -- what a test reads back --------------------------------------------------------------------


def setting_check_ids(value: Any, settings: Any) -> list[str]:
    """The sorted ids of what the settings check reports with ``RATELIMIT_GUARD = value``."""
    settings.RATELIMIT_GUARD = value
    return sorted(m.id for m in check_settings())


def breaker_state(scope: str = "ratelimit") -> str:
    """The state of this process's breaker of ``scope``: closed, open or half_open."""
    return get_breaker(scope).state.value


def evalsha_calls(server: RedisServer) -> int:
    """EVALSHA commands ``server`` has run so far (every decision is one)."""
    stats = server.client().info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
