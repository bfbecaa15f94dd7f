"""The breaker's failure window: calls and bad calls (failed or slow) over the last
``WINDOW_SECONDS``, counted in ``SLICES`` slices so that recording a call is O(1) and no
timestamp is kept per call. Not thread-safe: the breaker holds its lock around it."""

from __future__ import annotations

from collections import deque

#: The window is counted in this many slices of WINDOW_SECONDS.
SLICES = 10


class CallWindow:
    __slots__ = ("bad", "calls", "slice_seconds", "slices")

    def __init__(self, window_seconds: float) -> None:
        self.slice_seconds = window_seconds / SLICES
        self.slices: deque[list[int]] = deque()  # [slice index, calls, bad calls]
        self.calls = 0
        self.bad = 0

    def record(self, now: float, *, bad: bool) -> None:
        index = int(now // self.slice_seconds)
        slices = self.slices
        if slices and slices[-1][0] == index:
            # Still the newest slice: nothing has aged out of the window since it began, so
            # there is nothing to trim (the common case, once per healthy call).
            current = slices[-1]
        else:
            current = [index, 0, 0]
            slices.append(current)
            self.trim(now)
        current[1] += 1
        self.calls += 1
        if bad:
            current[2] += 1
            self.bad += 1

    def trim(self, now: float) -> None:
        """Forget the slices that have left the window."""
        oldest = int(now // self.slice_seconds) - SLICES + 1
        slices = self.slices
        while slices and slices[0][0] < oldest:
            _, calls, bad = slices.popleft()
            self.calls -= calls
            self.bad -= bad

    def clear(self) -> None:
        self.slices.clear()
        self.calls = self.bad = 0

    def rate_exceeded(self, min_calls: int, failure_rate: float) -> bool:
        """At least ``min_calls`` calls, of which at least ``failure_rate`` were bad."""
        return self.calls >= min_calls and self.bad >= failure_rate * self.calls


__all__ = ["SLICES", "CallWindow"]
