"""Chaos: real redis-server processes stopped, frozen, restarted, flapped and slowed under load.

Each test starts its own redis-server (never a server it did not start) and drives the Django stack
from several threads, each a distinct client address. Invariants everywhere: no unhandled
exception, no 5xx except the ``closed`` policy's 503, every decision labelled with its source.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import connections
from django.test import Client

from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.rates import parse_rate
from django_ratelimit_guard.engine.breaker import BreakerState
from django_ratelimit_guard.engine.breakers import get_breaker
from tests.support.builders import breaker_settings, guard_config, redis_cache
from tests.support.guards import FAIL_MODE_POLICIES
from tests.support.redis_servers import RedisServer
from tests.support.slow_proxy import SlowProxy

pytestmark = pytest.mark.chaos

SOCKET_TIMEOUT = 0.1
RESET_TIMEOUT, MAX_RESET_TIMEOUT, JITTER = 0.2, 0.8, 0.2
API_LIMIT = parse_rate(str(FAIL_MODE_POLICIES["api"]["rate"])).limit  # 5/m
THREADS = 4
#: Slack for a 2-core machine shared with other work: thread scheduling, not Redis.
SCHEDULING_SLACK = 0.25
RECOVERY_BOUND = MAX_RESET_TIMEOUT * (1 + JITTER) + 1.0

ALLOWED_STATUSES = {"/api/items/": {200, 429}, "/login/": {200, 429, 503}, "/plain/": {200}}


def chaos_settings(**breaker: float) -> dict[str, object]:
    """The fail-mode policies (``api`` with room for a load's worth of ``/plain/`` requests) and a
    breaker that backs off from RESET_TIMEOUT to MAX_RESET_TIMEOUT, jittered."""
    return guard_config(
        {**FAIL_MODE_POLICIES, "public": {**FAIL_MODE_POLICIES["public"], "rate": "10000/m"}},
        breaker=breaker_settings(
            3,
            RESET_TIMEOUT,
            MAX_RESET_TIMEOUT,
            jitter=JITTER,
            **{"success_threshold": 2, "slow_call_seconds": 0.5, "min_calls": 10, **breaker},
        ),
    )


@pytest.fixture
def server(settings, own_redis: RedisServer, subscribe) -> RedisServer:  # type: ignore[no-untyped-def]
    """A redis-server of the test alone, behind a cache alias with SOCKET_TIMEOUT s timeouts;
    every request's failed Redis calls counted in its ``Outcome``."""
    subscribe(bus.store_error, count_store_error)
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": redis_cache(own_redis.url, timeout=SOCKET_TIMEOUT),
    }
    settings.RATELIMIT_GUARD = chaos_settings()
    return own_redis


@dataclass
class Outcome:
    path: str
    client: str
    status: int
    source: str | None
    seconds: float
    at: float
    store_errors: int  # failed Redis calls made while serving this request (its thread's)


#: Failed Redis calls per thread, counted by the ``server`` fixture through ``bus.store_error``.
STORE_ERRORS: Counter[int] = Counter()


def count_store_error(scope: str, reason: str) -> None:
    STORE_ERRORS[threading.get_ident()] += 1


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def request(client: Client, path: str, addr: str) -> Outcome:
    errors_before = STORE_ERRORS[threading.get_ident()]
    started = time.monotonic()
    if path == "/login/":
        response = client.post(path, REMOTE_ADDR=addr)
    else:
        response = client.get(path, REMOTE_ADDR=addr)
    result = getattr(response.wsgi_request, "rate_limit", None)
    return Outcome(
        path,
        addr,
        response.status_code,
        result.source if result else None,
        time.monotonic() - started,
        started,
        STORE_ERRORS[threading.get_ident()] - errors_before,
    )


def run_load(seconds: float, prefix: str = "10.0.0", max_requests: int = 300) -> Load:
    """THREADS clients hammer the three endpoints for ``seconds`` (bounded in count too)."""
    load = Load()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    paths = ("/api/items/", "/login/", "/plain/")

    def worker(n: int) -> None:
        client, addr = Client(), f"{prefix}.{n + 1}"
        try:
            for i in range(max_requests):
                if time.monotonic() >= deadline:
                    break
                try:
                    outcome = request(client, paths[i % 3], addr)
                except BaseException as exc:
                    with lock:
                        load.errors.append(exc)
                    continue
                with lock:
                    load.outcomes.append(outcome)
                time.sleep(0.005)
        finally:
            # Breaker events are written to the database when a request finishes: close this
            # thread's connection, as a server's request threads do.
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    return load


def assert_invariants(load: Load) -> None:
    assert load.errors == []
    assert load.outcomes, "the load ran no request"
    for o in load.outcomes:
        assert o.status in ALLOWED_STATUSES[o.path], o
        if o.path == "/plain/" and o.source is not None:
            assert o.source in ("redis", "open")
        if o.status == 503:
            assert o.source == "closed"
    # Memory fallback enforces the limit per client: never more than API_LIMIT allowed from memory.
    for addr in {o.client for o in load.outcomes}:
        from_memory = [
            o
            for o in load.outcomes
            if o.client == addr
            and o.path == "/api/items/"
            and o.source == "memory"
            and o.status == 200
        ]
        assert len(from_memory) <= API_LIMIT


def wait_for_redis_source(timeout: float = RECOVERY_BOUND) -> float:
    """Seconds until a fresh client's decision comes from Redis again (fails after ``timeout``)."""
    client, started = Client(), time.monotonic()
    n = 0
    while time.monotonic() - started < timeout:
        n += 1
        outcome = request(client, "/plain/", f"192.168.{n // 250}.{n % 250 + 1}")
        if outcome.source == "redis":
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"no decision from Redis within {timeout} s")


def blocked_in_memory(load: Load) -> set[str]:
    return {
        o.client
        for o in load.outcomes
        if o.path == "/api/items/" and o.source == "memory" and o.status == 429
    }


def assert_still_blocked(clients: set[str]) -> None:
    client = Client()
    for addr in clients:
        outcome = request(client, "/api/items/", addr)
        assert (outcome.status, outcome.source) == (429, "redis"), addr


def outage_then_recovery(
    server: RedisServer,
    breaking: Callable[[], None],
    healing: Callable[[], None],
    *,
    outage: float = 0.8,
) -> tuple[Load, float]:
    assert_invariants(run_load(0.2, prefix="10.9.0"))  # healthy warm-up: pools connected
    breaking()
    try:
        load = run_load(outage)
    finally:
        healing()
    recovery = wait_for_redis_source()
    return load, recovery


def test_stopped_redis_falls_back_and_recovers(server):
    load, recovery = outage_then_recovery(server, server.stop, server.start)
    assert_invariants(load)
    assert {o.source for o in load.outcomes if o.path == "/api/items/"} >= {"memory"}
    assert any(o.status == 503 and o.source == "closed" for o in load.outcomes)
    assert any(o.source == "open" for o in load.outcomes if o.path == "/plain/")
    assert recovery <= RECOVERY_BOUND
    blocked = blocked_in_memory(load)
    assert blocked, "the load should have exhausted some client's fallback budget"
    assert_still_blocked(blocked)


def test_frozen_redis_costs_at_most_one_socket_timeout_per_request(server):
    load, _ = outage_then_recovery(server, server.freeze, server.thaw)
    assert_invariants(load)
    # No request waits on a frozen Redis twice: each meets at most one failed call (one socket
    # timeout), counted exactly; the wall time of those that met one is that timeout.
    assert max(o.store_errors for o in load.outcomes) == 1
    waited = sorted(o.seconds for o in load.outcomes if o.store_errors)
    assert waited[len(waited) // 2] <= SOCKET_TIMEOUT + SCHEDULING_SLACK
    # Once open, no request waits on Redis at all: the slow ones are the few that detected it.
    slow = [o for o in load.outcomes if o.seconds >= SOCKET_TIMEOUT * 0.9]
    assert len(slow) <= 3 * THREADS
    assert_still_blocked(blocked_in_memory(load))


def test_restarted_redis_loses_its_scripts_and_recovers(server):
    load, recovery = outage_then_recovery(server, server.restart, lambda: None, outage=0.5)
    assert_invariants(load)
    assert recovery <= RECOVERY_BOUND
    after = run_load(0.3, prefix="10.8.0")
    assert_invariants(after)
    assert {o.source for o in after.outcomes} <= {"redis", None}


def test_flapping_redis_is_held_off_by_backoff(server, subscribe):
    transitions: list[tuple[str, BreakerState, BreakerState]] = []
    subscribe(
        bus.breaker_transition,
        lambda scope, old, new, reason: transitions.append((scope, old, new)),
    )
    stop = threading.Event()

    def flap() -> None:
        while not stop.is_set():
            server.stop()
            time.sleep(0.15)
            server.start()
            time.sleep(0.15)

    flapper = threading.Thread(target=flap)
    flapper.start()
    try:
        load = run_load(2.5)
    finally:
        stop.set()
        flapper.join(10)
    if server.process is None:
        server.start()
    assert_invariants(load)
    opens = sum(1 for _, _, new in transitions if new is BreakerState.OPEN)
    # Without backoff the breaker could open every ~RESET_TIMEOUT x (1 - JITTER) = 0.16 s, ~15
    # times in 2.5 s; with it each open lasts 0.2, 0.4, 0.8, 0.8 … s.
    assert 1 <= opens <= 7
    assert wait_for_redis_source() <= RECOVERY_BOUND


def test_slow_redis_opens_on_the_slow_call_rate(server, settings):
    proxy = SlowProxy(server.port)
    try:
        settings.CACHES = {
            **settings.CACHES,
            "ratelimit": redis_cache(proxy.url, timeout=0.3),
        }
        settings.RATELIMIT_GUARD = chaos_settings(
            slow_call_seconds=0.04, failure_rate=0.2, min_calls=6
        )
        assert_invariants(run_load(0.2, prefix="10.9.0"))
        # On a loaded machine a call of the healthy phase may already take 40 ms: the slow phase
        # starts from a closed breaker with an empty window, so what opens it is that phase.
        breaker = get_breaker("ratelimit")
        breaker.reset()
        opened_before = breaker.snapshot().open_count
        proxy.delay = 0.06  # slow, yet well inside the socket timeout: no call fails
        load = run_load(1.0)
        assert_invariants(load)
        assert breaker.snapshot().open_count > opened_before
        assert {o.source for o in load.outcomes if o.path == "/api/items/"} >= {"redis", "memory"}
        proxy.delay = 0.0
        assert wait_for_redis_source() <= RECOVERY_BOUND
        assert_still_blocked(blocked_in_memory(load))
    finally:
        proxy.close()
