"""The fixtures every test package may use (``tests/conftest.py`` loads this module as a plugin).

Servers are real ``redis-server`` processes this session started on free ports; only those are
ever stopped, frozen or flushed. A Redis Cluster and a Sentinel group are built once per session,
on first use, and always torn down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_ratelimit_guard.conf.settings import reset_all
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.bus import Topic
from django_ratelimit_guard.edge.startup import validate_views_once
from django_ratelimit_guard.engine import decide
from django_ratelimit_guard.ops import top_clients
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.admin import staff
from tests.support.builders import cluster_cache, guard_config, redis_cache, sentinel_cache
from tests.support.redis_cluster import ClusterDeployment, SentinelGroup
from tests.support.redis_servers import RedisServer
from tests.support.windows import inside_one_window

# No fleet poller thread in the test process, even where a test replaces RATELIMIT_GUARD whole
# (the environment variable wins over the dict): a thread reading the in-memory test database
# beside the tests would race them. tests/system/test_fleet_processes.py runs real worker
# processes with a poller.
os.environ.setdefault("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "0")
# Nor a health-check thread (engine/recovery.py) making open breakers' probes due behind the
# backs of the tests that time them; tests/engine/test_recovery_*.py turn it on where they test it.
os.environ.setdefault("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "0")


@pytest.fixture(scope="session", autouse=True)
def _views_validated_under_the_suites_settings(django_test_environment: None) -> None:
    """RateLimitMiddleware validates every @rate_limit once per process, when first built
    (edge/startup.py). Do it here, under the suite's settings, the project the URLconf belongs
    to: tests that swap POLICIES later model other projects without re-importing the URLconf."""
    validate_views_once()


@pytest.fixture(autouse=True)
def _fresh_guard_state() -> Iterator[None]:
    reset_all()
    logs.aggregator.reset()  # every test sees the first line of each kind it causes
    yield
    reset_all()


# -- one redis-server --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server this test session started (and alone may stop or flush)."""
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def redis(settings, redis_server: RedisServer):  # type: ignore[no-untyped-def]
    """Point the rate-limit cache at the session's redis-server, emptied for this test."""
    if redis_server.process is None:
        redis_server.start()
    redis_server.flush()
    settings.CACHES = {**settings.CACHES, "ratelimit": redis_cache(redis_server.url)}
    yield redis_server
    reset_all()


@pytest.fixture
def own_redis(settings) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    """A redis-server of this test alone, behind the rate-limit cache: the test may stop, freeze
    or restart it."""
    server = RedisServer().start()
    settings.CACHES = {**settings.CACHES, "ratelimit": redis_cache(server.url)}
    yield server
    server.close()


# -- a Redis Cluster and a Sentinel group (built once per session) -----------------------------


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterDeployment]:
    """A real 3-master + 3-replica Redis Cluster. Tests that break it (kill a master) restore it
    before they return; they never assume which port is a master."""
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
    """Point the rate-limit alias at the session's Sentinel service, emptied and healthy."""
    sentinel_group.restore()
    sentinel_group.server(sentinel_group.current_master_port()).flush()
    settings.CACHES = {**settings.CACHES, "ratelimit": sentinel_cache(sentinel_group)}
    reset_all()
    yield sentinel_group
    reset_all()


# -- the guard, configured for a test module ---------------------------------------------------


@pytest.fixture
def guarded(request, settings):  # type: ignore[no-untyped-def]
    """``RATELIMIT_GUARD`` as the ``guard`` marker of the test (or its module) says, on the
    deployment the marker names; returns that deployment.

    ``pytest.mark.guard(policies, breaker=..., on="redis" | "cluster" | "sentinel", **sections)``:
    the policies, the ``BREAKER`` section (see ``builders.breaker_settings``) and any other
    section by lowercase name (``fallback={"WORKERS": 2}``), on the session's redis-server
    (``redis``, the default), Redis Cluster (``cluster``) or Sentinel group (``sentinel``).
    """
    marker = request.node.get_closest_marker("guard")
    if marker is None:
        pytest.fail("the guarded fixture needs a pytest.mark.guard(policies, ...) marker")
    options = dict(marker.kwargs)
    deployment = request.getfixturevalue(options.pop("on", "redis"))
    settings.RATELIMIT_GUARD = guard_config(*marker.args, **options)
    return deployment


@pytest.fixture
def redis_calls(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """How many hits each ``RedisStore.hit_many`` call carried, in order (the calls still run)."""
    calls: list[int] = []
    original = RedisStore.hit_many

    def counting(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        calls.append(len(hits))
        return original(self, hits, **kwargs)

    monkeypatch.setattr(RedisStore, "hit_many", counting)
    return calls


# -- the event bus -----------------------------------------------------------------------------


@pytest.fixture
def subscribe() -> Iterator[Callable[[Topic[Any], Callable[..., Any]], None]]:
    """``subscribe(bus.topic, fn)``: subscribe ``fn`` for this test only."""
    added: list[tuple[Topic[Any], Callable[..., Any]]] = []

    def add(topic: Topic[Any], fn: Callable[..., Any]) -> None:
        topic.subscribe(fn)
        added.append((topic, fn))

    yield add
    for topic, fn in added:
        topic.unsubscribe(fn)


# -- the async path ----------------------------------------------------------------------------


@pytest.fixture
def no_thread_hop(monkeypatch):  # type: ignore[no-untyped-def]
    """Fail the test if an async decision hops to a worker thread (``sync_to_async``)."""

    def forbidden(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the async path hopped to a thread")

    monkeypatch.setattr(decide, "sync_to_async", forbidden)


# -- the /metrics view -------------------------------------------------------------------------


@pytest.fixture
def metrics_view(settings: Any) -> Any:
    """The test project with ``/metrics`` routed (tests/support/api_urls.py) and no middleware."""
    settings.ROOT_URLCONF = "tests.support.api_urls"
    settings.MIDDLEWARE = []
    return settings


# -- the admin status page ---------------------------------------------------------------------


@pytest.fixture
def viewer(client):  # type: ignore[no-untyped-def]
    """The test client, logged in as staff who may view the status page."""
    client.force_login(staff("viewer", "view_status"))
    return client


@pytest.fixture
def operator(client):  # type: ignore[no-untyped-def]
    """The test client, logged in as staff who may view the status page and act on it."""
    client.force_login(staff("operator", "view_status", "manage_guard"))
    return client


@pytest.fixture
def fresh_tracker() -> None:
    """The most-limited clients tracker with nothing pending and due to flush at once."""
    top_clients.tracker.pending.clear()
    top_clients.tracker.last_flush = float("-inf")


@pytest.fixture
def inside_one_minute() -> None:
    """For tests that count to a per-minute limit and read the retry Redis gave: near a window
    boundary the sliding window's retry shrinks to milliseconds. Starts inside one minute, with
    at least 10 s of it left."""
    inside_one_window(60, 10)
