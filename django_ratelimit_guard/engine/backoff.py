"""The breaker's backoff: how long a scope stays open, and how that time decays while healthy.

Open time at level ``n`` is ``RESET_TIMEOUT x BACKOFF_MULTIPLIER^n``, capped at
``MAX_RESET_TIMEOUT``. A failed half-open probe raises the level by one; every healthy period the
breaker stays closed steps it down by one (a healthy period is the open time of that level, and at
least ``WINDOW_SECONDS``). Pure arithmetic over :class:`BreakerSettings`: no clock, no state.
"""

from __future__ import annotations

from django_ratelimit_guard.conf.sections import BreakerSettings

#: A probe that has not answered after max(HUNG_PROBE_MIN, HUNG_PROBE_FACTOR x SLOW_CALL_SECONDS)
#: is hung: the next request re-opens the breaker (the probe's late answer is then ignored).
HUNG_PROBE_FACTOR = 10.0
HUNG_PROBE_MIN = 1.0


class Backoff:
    """The open-time schedule of one breaker configuration."""

    def __init__(self, config: BreakerSettings) -> None:
        self.config = config
        level = 0
        while level < 64 and self.timeout(level) < config.max_reset_timeout:
            level += 1
        self.max_level = level

    def timeout(self, level: int) -> float:
        """The open time at ``level``, before jitter."""
        config = self.config
        return float(
            min(config.max_reset_timeout, config.reset_timeout * config.backoff_multiplier**level)
        )

    def healthy_period(self, level: int) -> float:
        """How long the breaker must stay closed to step its open time down one level."""
        return max(self.config.window_seconds, self.timeout(level))

    def decayed(self, level: int, healthy_for: float) -> int:
        """The level after ``healthy_for`` seconds closed, one step per healthy period."""
        while level > 0 and healthy_for >= self.healthy_period(level):
            healthy_for -= self.healthy_period(level)
            level -= 1
        return level

    def hung_after(self) -> float:
        """A probe still in flight after this long counts as failed (its call hung)."""
        return max(HUNG_PROBE_MIN, HUNG_PROBE_FACTOR * self.config.slow_call_seconds)


__all__ = ["HUNG_PROBE_FACTOR", "HUNG_PROBE_MIN", "Backoff"]
