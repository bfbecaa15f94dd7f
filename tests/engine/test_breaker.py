"""The breaker's state machine, driven by a fake clock and a fake random source (no sleeping)."""

from __future__ import annotations

import logging
import threading

import pytest

from django_ratelimit_guard import signals
from django_ratelimit_guard.conf.sections import BreakerSettings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine.breaker import BreakerState, CircuitBreaker

CLOSED, HALF_OPEN, OPEN = BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(clock: FakeClock, rand: float = 0.5, **overrides: object) -> CircuitBreaker:
    config = BreakerSettings(
        **{
            "failure_threshold": 3,
            "min_calls": 10,
            "window_seconds": 10.0,
            "reset_timeout": 5.0,
            "max_reset_timeout": 40.0,
            "jitter": 0.5,
            "success_threshold": 2,
            **overrides,
        }
    )  # type: ignore[arg-type]
    return CircuitBreaker(
        "test", config, clock=clock, wall_clock=lambda: 50_000.0 + clock.now, random=lambda: rand
    )


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        call = breaker.acquire()
        assert call is not None
        call.failure("connection")


def succeed(breaker: CircuitBreaker, duration: float = 0.001) -> None:
    call = breaker.acquire()
    assert call is not None
    call.success(duration)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_consecutive_failures_open_the_breaker(clock):
    breaker = make(clock)
    fail(breaker, 2)
    assert breaker.state is CLOSED
    fail(breaker)
    assert breaker.state is OPEN
    assert breaker.acquire() is None


def test_a_success_resets_the_consecutive_count(clock):
    breaker = make(clock)
    fail(breaker, 2)
    succeed(breaker)
    fail(breaker, 2)
    assert breaker.state is CLOSED
    assert breaker.snapshot().consecutive_failures == 2


def test_failure_rate_over_the_window_opens_once_min_calls_were_seen(clock):
    breaker = make(clock, failure_threshold=100, failure_rate=0.5, min_calls=10)
    for _ in range(4):
        succeed(breaker)
        fail(breaker)
    assert breaker.state is CLOSED  # 4 of 8: not enough calls yet
    succeed(breaker)
    fail(breaker)
    assert breaker.state is OPEN  # 5 of 10


def test_slow_successes_count_toward_the_rate_but_not_the_consecutive_count(clock):
    breaker = make(
        clock, failure_threshold=2, min_calls=4, failure_rate=0.75, slow_call_seconds=0.1
    )
    for _ in range(3):
        succeed(breaker, duration=0.5)
    assert breaker.state is CLOSED
    assert breaker.snapshot().consecutive_failures == 0
    succeed(breaker, duration=0.5)
    assert breaker.state is OPEN


def test_failures_older_than_the_window_are_forgotten(clock):
    breaker = make(clock, failure_threshold=100, min_calls=4, failure_rate=0.5)
    fail(breaker, 3)
    clock.advance(11)
    succeed(breaker)
    succeed(breaker)
    fail(breaker)
    assert breaker.snapshot().recent_calls == 3
    assert breaker.state is CLOSED


def test_open_breaker_goes_half_open_after_the_jittered_timeout(clock):
    breaker = make(clock, rand=1.0)  # jitter +50 %: 7.5 s
    fail(breaker, 3)
    clock.advance(7.4)
    assert breaker.acquire() is None
    assert breaker.retry_after() == pytest.approx(0.1)
    clock.advance(0.1)
    assert breaker.acquire() is not None
    assert breaker.state is HALF_OPEN


def test_jitter_spreads_the_open_time_both_ways(clock):
    low = make(clock, rand=0.0)
    fail(low, 3)
    assert low.retry_after() == pytest.approx(2.5)
    high = make(clock, rand=1.0)
    fail(high, 3)
    assert high.retry_after() == pytest.approx(7.5)


def test_half_open_admits_only_half_open_requests_probes(clock):
    breaker = make(clock, half_open_requests=2)
    fail(breaker, 3)
    clock.advance(10)
    first, second = breaker.acquire(), breaker.acquire()
    assert first is not None
    assert second is not None
    assert first.probe
    assert second.probe
    assert breaker.acquire() is None


def test_success_threshold_probes_close_the_breaker(clock):
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(10)
    succeed(breaker)
    assert breaker.state is HALF_OPEN
    succeed(breaker)
    assert breaker.state is CLOSED
    assert breaker.acquire() is not None


def test_failed_probe_reopens_with_a_longer_open_time(clock):
    breaker = make(clock)
    fail(breaker, 3)
    assert breaker.snapshot().current_reset_timeout == 5
    clock.advance(10)
    fail(breaker)
    assert breaker.state is OPEN
    assert breaker.snapshot().current_reset_timeout == 10
    assert breaker.retry_after() == pytest.approx(10)


def test_slow_probe_reopens(clock):
    breaker = make(clock, slow_call_seconds=0.1)
    fail(breaker, 3)
    clock.advance(10)
    succeed(breaker, duration=0.2)
    assert breaker.state is OPEN


def test_hung_probe_reopens_and_its_late_answer_is_ignored(clock):
    breaker = make(clock, slow_call_seconds=0.1)
    fail(breaker, 3)
    clock.advance(10)
    hung = breaker.acquire()
    assert hung is not None
    clock.advance(0.5)
    assert breaker.acquire() is None
    assert breaker.state is HALF_OPEN  # not hung yet (1 s)
    clock.advance(0.6)
    assert breaker.acquire() is None
    assert breaker.state is OPEN
    opens = breaker.snapshot().open_count
    hung.success(0.001)
    assert breaker.state is OPEN
    assert breaker.snapshot().open_count == opens


def test_backoff_is_capped_at_max_reset_timeout(clock):
    breaker = make(clock, rand=0.5)
    fail(breaker, 3)
    timeouts = []
    for _ in range(6):
        clock.advance(breaker.retry_after())
        fail(breaker)
        timeouts.append(breaker.snapshot().current_reset_timeout)
    assert timeouts == [10, 20, 40, 40, 40, 40]


def test_jittered_open_time_never_exceeds_max_reset_timeout(clock):
    breaker = make(clock, rand=1.0)
    fail(breaker, 3)
    for _ in range(5):
        clock.advance(breaker.retry_after())
        fail(breaker)
    assert breaker.retry_after() <= 40


def test_reopening_soon_after_closing_backs_off_further(clock):
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(5)
    succeed(breaker)
    succeed(breaker)
    assert breaker.state is CLOSED
    clock.advance(1)  # flapping: fails again right away
    fail(breaker, 3)
    assert breaker.snapshot().current_reset_timeout == 10


def test_open_time_steps_down_only_after_healthy_time(clock):
    breaker = make(clock)
    fail(breaker, 3)
    for _ in range(2):  # two failed probes: level 2 (20 s)
        clock.advance(breaker.retry_after())
        fail(breaker)
    clock.advance(breaker.retry_after())
    succeed(breaker)
    succeed(breaker)
    assert breaker.snapshot().current_reset_timeout == 20
    clock.advance(19)
    assert breaker.snapshot().current_reset_timeout == 20
    clock.advance(1)  # 20 s healthy at level 2
    assert breaker.snapshot().current_reset_timeout == 10
    clock.advance(10)  # then 10 s at level 1
    assert breaker.snapshot().current_reset_timeout == 5
    fail(breaker, 3)
    assert breaker.snapshot().current_reset_timeout == 5


def test_force_open_stays_open_without_probes_until_reset(clock):
    breaker = make(clock)
    breaker.force_open("maintenance")
    clock.advance(1000)
    assert breaker.acquire() is None
    snapshot = breaker.snapshot()
    assert snapshot.state is OPEN
    assert snapshot.forced
    assert snapshot.next_probe_at is None
    breaker.reset()
    assert breaker.state is CLOSED
    assert not breaker.snapshot().forced
    assert breaker.acquire() is not None


def test_reset_closes_and_clears_the_backoff(clock):
    breaker = make(clock)
    fail(breaker, 3)
    clock.advance(breaker.retry_after())
    fail(breaker)
    breaker.reset()
    assert breaker.state is CLOSED
    fail(breaker, 3)
    assert breaker.snapshot().current_reset_timeout == 5


def test_released_calls_neither_open_nor_close(clock):
    breaker = make(clock, failure_threshold=1)
    for _ in range(10):
        call = breaker.acquire()
        assert call is not None
        call.release()
        breaker.count_error("pool")
    assert breaker.state is CLOSED
    assert breaker.error_counts() == {"pool": 10}
    fail(breaker)
    clock.advance(10)
    probe = breaker.acquire()
    assert probe is not None
    probe.release()
    assert breaker.state is HALF_OPEN
    assert breaker.acquire() is not None  # the slot was given back


def test_stale_failures_after_opening_are_ignored(clock):
    breaker = make(clock)
    calls = [breaker.acquire() for _ in range(5)]
    for call in calls[:3]:
        assert call is not None
        call.failure()
    opens = breaker.snapshot().open_count
    for call in calls[3:]:
        assert call is not None
        call.failure()
    assert breaker.snapshot().open_count == opens


def test_snapshot_reports_wall_clock_times(clock):
    breaker = make(clock, rand=0.5)
    fail(breaker, 3)
    snapshot = breaker.snapshot()
    assert snapshot.opened_at == pytest.approx(50_000.0 + clock.now)
    assert snapshot.next_probe_at == pytest.approx(50_000.0 + clock.now + 5)
    assert snapshot.recent_failures == 0  # the window restarts on each transition
    assert snapshot.open_count == 1


def test_every_transition_reaches_subscribers_signal_and_log(clock, caplog, subscribe):
    breaker = make(clock)
    seen: list[tuple[str, BreakerState, BreakerState]] = []
    subscribe(
        bus.breaker_transition, lambda scope, old, new, reason: seen.append((scope, old, new))
    )
    signalled: list[tuple[str, str, str]] = []

    def receiver(sender, scope, old, new, **kwargs):  # type: ignore[no-untyped-def]
        signalled.append((scope, old, new))

    signals.breaker_state_changed.connect(receiver)
    try:
        with caplog.at_level(logging.INFO, logger="django_ratelimit_guard"):
            fail(breaker, 3)
            clock.advance(10)
            succeed(breaker)
            succeed(breaker)
    finally:
        signals.breaker_state_changed.disconnect(receiver)
    assert seen == [("test", CLOSED, OPEN), ("test", OPEN, HALF_OPEN), ("test", HALF_OPEN, CLOSED)]
    assert signalled == [
        ("test", "closed", "open"),
        ("test", "open", "half_open"),
        ("test", "half_open", "closed"),
    ]
    records = [r for r in caplog.records if hasattr(r, "new_state")]
    assert [(r.old_state, r.new_state) for r in records] == [  # type: ignore[attr-defined]
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


def test_a_failing_subscriber_does_not_break_the_breaker(clock, subscribe, caplog):
    breaker = make(clock)

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    subscribe(bus.breaker_transition, broken)
    fail(breaker, 3)
    assert breaker.state is OPEN
    assert any("subscriber failed" in r.getMessage() for r in caplog.records)


def test_only_one_thread_probes_a_half_open_breaker(clock):
    breaker = make(clock, half_open_requests=1)
    fail(breaker, 3)
    clock.advance(10)
    barrier = threading.Barrier(16)
    probes: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(50):
            call = breaker.acquire()
            if call is not None:
                with lock:
                    probes.append(call)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(probes) == 1
