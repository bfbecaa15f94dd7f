"""Rate strings: ``"N/u"`` or ``"N/Ku"`` with u in s, m, h, d.

The grammar is matched whole (``re.fullmatch`` over ASCII digits only), so ``"5/minute"``,
``"5/m "``, ``"٥/m"`` or ``"05/m"`` are errors, never a silent partial parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django_ratelimit_guard.core.exceptions import RateError

MAX_LIMIT = 1_000_000_000
MIN_WINDOW = 1
MAX_WINDOW = 7 * 24 * 3600

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# [0-9], not \d: \d also matches non-ASCII digits such as "٥".
_RATE_RE = re.compile(r"([1-9][0-9]{0,9})/([1-9][0-9]{0,6})?([smhd])")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    window: int  # seconds

    @property
    def window_ms(self) -> int:
        return self.window * 1000

    def __str__(self) -> str:
        for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
            if self.window % seconds == 0:
                multiple = self.window // seconds
                return f"{self.limit}/{multiple if multiple != 1 else ''}{unit}"
        return f"{self.limit}/{self.window if self.window != 1 else ''}s"


def parse_rate(value: object) -> Rate:
    """Parse ``"100/m"``-style text into a :class:`Rate`, or raise :class:`RateError`."""
    if not isinstance(value, str):
        raise RateError(f"expected a string such as '5/m', got {type(value).__name__}")
    match = _RATE_RE.fullmatch(value)
    if match is None:
        raise RateError(f"{value!r} is not 'N/unit' such as '5/m' or '10/5m'")
    limit = int(match.group(1))
    window = int(match.group(2) or 1) * _UNITS[match.group(3)]
    if limit > MAX_LIMIT:
        raise RateError(f"{value!r}: the count {limit} is above the maximum {MAX_LIMIT:,}")
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise RateError(f"{value!r}: the window of {window} s is longer than 7 days")
    return Rate(limit, window)


__all__ = ["MAX_LIMIT", "MAX_WINDOW", "MIN_WINDOW", "Rate", "RateError", "parse_rate"]
