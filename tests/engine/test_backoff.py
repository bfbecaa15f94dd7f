"""The breaker's open-time schedule (engine/backoff.py): growth, cap, decay, hung probes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.conf.sections import BreakerSettings
from django_ratelimit_guard.engine.backoff import Backoff


def test_the_open_time_doubles_per_level_up_to_the_cap() -> None:
    backoff = Backoff(BreakerSettings(reset_timeout=5.0, max_reset_timeout=60.0))
    assert [backoff.timeout(level) for level in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    assert backoff.max_level == 4  # the first level whose open time reaches the cap


def test_a_healthy_period_is_at_least_the_window() -> None:
    backoff = Backoff(BreakerSettings(reset_timeout=1.0, window_seconds=10.0))
    assert backoff.healthy_period(0) == 10.0
    assert backoff.healthy_period(5) == 32.0


def test_decay_steps_down_one_level_per_healthy_period() -> None:
    backoff = Backoff(BreakerSettings(reset_timeout=5.0, window_seconds=10.0))
    # Level 3 needs 40 s healthy to reach 2, then 20 s to reach 1, then 10 s to reach 0.
    assert backoff.decayed(3, 39.9) == 3
    assert backoff.decayed(3, 40.0) == 2
    assert backoff.decayed(3, 60.0) == 1
    assert backoff.decayed(3, 70.0) == 0
    assert backoff.decayed(0, 1e9) == 0


def test_a_probe_hangs_after_ten_slow_calls_and_at_least_a_second() -> None:
    assert Backoff(BreakerSettings(slow_call_seconds=0.5)).hung_after() == 5.0
    assert Backoff(BreakerSettings(slow_call_seconds=0.01)).hung_after() == 1.0


@given(
    reset=st.floats(0.01, 100.0),
    multiplier=st.floats(1.0, 10.0),
    cap_factor=st.floats(1.0, 1000.0),
    level=st.integers(0, 80),
    healthy=st.floats(0.0, 1e6),
)
def test_the_schedule_is_capped_monotonic_and_decays_monotonically(
    reset: float, multiplier: float, cap_factor: float, level: int, healthy: float
) -> None:
    config = BreakerSettings(
        reset_timeout=reset, max_reset_timeout=reset * cap_factor, backoff_multiplier=multiplier
    )
    backoff = Backoff(config)
    assert backoff.timeout(level) <= config.max_reset_timeout
    assert backoff.timeout(level) <= backoff.timeout(level + 1)
    assert 0 <= backoff.max_level <= 64
    decayed = backoff.decayed(level, healthy)
    assert 0 <= decayed <= level
    assert backoff.decayed(level, healthy * 2) <= decayed
