"""Health checks of open breakers (engine/recovery.py, guarded.check_health, stores/health.py):
the breaker rule with a fake clock, the classification with fake pings, then real redis-server
processes stopped, frozen and restarted under a real health-check thread."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis.exceptions as rexc
from django.test import Client

from django_ratelimit_guard.conf.sections import BreakerSettings
from django_ratelimit_guard.conf.settings import reset_all
from django_ratelimit_guard.engine import guarded, recovery
from django_ratelimit_guard.engine.breaker import BreakerState, CircuitBreaker
from django_ratelimit_guard.engine.breakers import get_breaker
from tests.support.builders import redis_cache
from tests.support.redis_servers import RedisServer

CLOSED, HALF_OPEN, OPEN = BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: FakeClock, **overrides: object) -> CircuitBreaker:
    config = BreakerSettings(
        **{
            "failure_threshold": 3,
            "reset_timeout": 5.0,
            "max_reset_timeout": 40.0,
            "jitter": 0.0,
            "success_threshold": 2,
            "health_check_seconds": 0.5,
            **overrides,
        }
    )  # type: ignore[arg-type]
    return CircuitBreaker("test", config, clock=clock, random=lambda: 0.5)


def open_it(b: CircuitBreaker) -> None:
    for _ in range(b.config.failure_threshold):
        call = b.acquire()
        assert call is not None
        call.failure("connection")
    assert b.state is OPEN


# -- the breaker's rule ------------------------------------------------------------------------


def test_passing_health_check_makes_an_open_breakers_next_probe_due_at_once() -> None:
    clock = FakeClock()
    b = breaker(clock)
    open_it(b)
    clock.now += 0.1
    assert b.acquire() is None  # 4.9 s to go by the backoff
    assert b.health_check_passed() is True
    probe = b.acquire()
    assert probe is not None and probe.probe
    assert b.state is HALF_OPEN


def test_health_check_alone_never_closes_the_breaker() -> None:
    clock = FakeClock()
    b = breaker(clock)
    open_it(b)
    b.health_check_passed()
    b.health_check_passed()
    assert b.state is OPEN
    for _ in range(b.config.success_threshold):
        probe = b.acquire()
        assert probe is not None and probe.probe
        probe.success(0.001)
    assert b.state is CLOSED  # through SUCCESS_THRESHOLD probes, as without health checks


def test_health_check_leaves_closed_and_forced_open_breakers_alone() -> None:
    clock = FakeClock()
    b = breaker(clock)
    assert b.health_check_passed() is False
    assert b.state is CLOSED
    b.force_open("maintenance")
    assert b.health_check_passed() is False
    assert b.acquire() is None
    assert recovery.awaiting(b) is False


def test_failed_probes_raise_the_backoff_but_not_the_health_checks_reach() -> None:
    clock = FakeClock()
    b = breaker(clock)
    open_it(b)
    for _ in range(4):  # four failed probes: 10, 20, 40, 40 s of open time
        clock.now += b.config.max_reset_timeout + 1
        probe = b.acquire()
        assert probe is not None
        probe.failure("connection")
    assert b.snapshot().current_reset_timeout == 40.0
    assert b.retry_after() == pytest.approx(40.0)
    assert recovery.awaiting(b)
    assert b.health_check_passed()
    assert b.acquire() is not None  # due at once, however high the backoff


# -- classification (guarded.check_health) -----------------------------------------------------


@pytest.fixture
def scope_breaker(settings) -> CircuitBreaker:  # type: ignore[no-untyped-def]
    b = get_breaker("ratelimit")
    open_it_by_failures(b)
    return b


def open_it_by_failures(b: CircuitBreaker) -> None:
    while b.state is not OPEN:
        call = b.acquire()
        assert call is not None
        call.failure("connection")


def raises(exc: BaseException):  # type: ignore[no-untyped-def]
    def ping() -> object:
        raise exc

    return ping


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (rexc.ConnectionError("Connection refused"), "connection"),
        (rexc.TimeoutError("Timeout reading from socket"), "timeout"),
        (rexc.BusyLoadingError("LOADING"), "loading"),
        (rexc.ConnectionError("Too many connections"), "pool"),
        (OSError("unreachable"), "connection"),
    ],
)
def test_failed_health_check_is_classified_and_tells_the_breaker_nothing(
    scope_breaker: CircuitBreaker, error: BaseException, kind: str
) -> None:
    before = scope_breaker.snapshot()
    assert guarded.check_health("ratelimit", raises(error)) == kind
    after = scope_breaker.snapshot()
    assert after.state is OPEN
    assert after.open_count == before.open_count
    assert after.current_reset_timeout == before.current_reset_timeout
    assert after.next_probe_at == pytest.approx(before.next_probe_at, abs=1e-3)  # wall-clock view
    assert scope_breaker.acquire() is None


def test_slow_health_check_does_not_make_the_probe_due(scope_breaker: CircuitBreaker) -> None:
    slow = scope_breaker.config.slow_call_seconds

    def ping() -> object:
        time.sleep(slow * 1.2)
        return True

    assert guarded.check_health("ratelimit", ping) == "slow"
    assert scope_breaker.acquire() is None


def test_passing_health_check_makes_the_scopes_probe_due(scope_breaker: CircuitBreaker) -> None:
    assert guarded.check_health("ratelimit", lambda: True) is None
    probe = scope_breaker.acquire()
    assert probe is not None and probe.probe


# -- real redis-server processes ---------------------------------------------------------------

SOCKET_TIMEOUT = 0.1


@pytest.fixture
def own_server(settings, monkeypatch) -> Iterator[RedisServer]:  # type: ignore[no-untyped-def]
    """A redis-server of this test's own, behind a breaker with a long backoff and fast checks."""
    server = RedisServer().start()
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "0.05")
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            **redis_cache(server.url),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT, "SOCKET_TIMEOUT": SOCKET_TIMEOUT},
        },
    }
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "BREAKER": {
            "FAILURE_THRESHOLD": 2,
            "RESET_TIMEOUT": 30,
            "MAX_RESET_TIMEOUT": 60,
            "JITTER": 0,
            "SUCCESS_THRESHOLD": 1,
        },
    }
    yield server
    recovery.stop()
    server.close()


def post_login(client: Client, addr: str = "10.9.0.1") -> tuple[int, str | None]:
    response = client.post("/login/", REMOTE_ADDR=addr)
    result = getattr(response.wsgi_request, "rate_limit", None)
    return response.status_code, (result.source if result else None)


def open_by_requests(client: Client) -> None:
    for _ in range(10):
        post_login(client)
        if get_breaker("ratelimit").state is OPEN:
            return
    raise AssertionError("the breaker did not open")


def test_check_scope_reads_a_stopped_a_frozen_and_a_running_redis(
    own_server: RedisServer,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "0")  # no thread: by hand
    reset_all()
    b = get_breaker("ratelimit")
    open_it_by_failures(b)
    own_server.stop()
    assert recovery.check_scope("ratelimit") == "connection"
    own_server.start()
    own_server.freeze()
    try:
        started = time.monotonic()
        assert recovery.check_scope("ratelimit") == "timeout"
        assert time.monotonic() - started < SOCKET_TIMEOUT * 5  # one attempt, no retries
    finally:
        own_server.thaw()
    assert b.acquire() is None  # none of that made the probe due
    assert recovery.check_scope("ratelimit") is None
    assert b.acquire() is not None


def test_opening_breaker_starts_the_thread_which_notices_recovery_long_before_the_backoff(
    own_server: RedisServer,
) -> None:
    client = Client()
    own_server.stop()
    open_by_requests(client)
    assert recovery.running()  # started by the transition (ops/install.py subscribes it)
    assert post_login(client) == (503, "closed")
    # The backoff says 30 s; the checks may bring Redis back within one interval: ask for 1 s.
    assert client.post("/login/", REMOTE_ADDR="10.9.0.3")["Retry-After"] == "1"
    time.sleep(0.3)  # several failed checks: the breaker stays open, its backoff unchanged
    assert get_breaker("ratelimit").state is OPEN
    assert get_breaker("ratelimit").snapshot().current_reset_timeout == 30

    own_server.start()
    restarted = time.monotonic()
    while True:
        status, source = post_login(client, "10.9.0.2")
        if source == "redis":
            break
        assert status == 503 and source == "closed"
        assert time.monotonic() - restarted < 2.0, "not back on Redis within 2 s"
        time.sleep(0.01)
    assert status == 200
    assert get_breaker("ratelimit").state is CLOSED
    deadline = time.monotonic() + 2
    while recovery.running() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not recovery.running()  # no breaker awaits a probe: the thread ended


def test_no_thread_when_health_checks_are_off(own_server: RedisServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "0")
    reset_all()
    own_server.stop()
    open_by_requests(Client())
    assert not recovery.running()
    assert get_breaker("ratelimit").retry_after() > 20  # the plain backoff
    retry_after = Client().post("/login/", REMOTE_ADDR="10.9.0.4")["Retry-After"]
    assert int(retry_after) > 20
