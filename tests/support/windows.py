"""Keep a timing-sensitive test inside one rate window.

Redis aligns windows on the epoch (``floor(now / W)``): a test that counts to a limit across a
boundary sees its count move to the previous window. ``inside_one_window`` waits, when needed,
until the current window has room for the test.
"""

from __future__ import annotations

import time


def inside_one_window(window_seconds: float, needed_seconds: float) -> None:
    """Return once at least ``needed_seconds`` are left in the current window."""
    if needed_seconds >= window_seconds:
        raise ValueError("the test needs more time than one window holds")
    left = window_seconds - time.time() % window_seconds
    if left < needed_seconds:
        time.sleep(left + 0.05)
