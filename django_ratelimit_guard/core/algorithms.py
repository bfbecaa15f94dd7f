"""The three algorithms in pure Python: the twin of ``stores/lua/decide.lua``.

The memory fallback store decides with these functions; the Redis store runs the Lua script. Each
line below mirrors one line of the script, with the same IEEE-754 double arithmetic (Python floats
are doubles, as Lua 5.1 numbers are), so both decide every sequence alike — a differential test
(``tests/core/test_algorithms.py``) holds them to it.

State per storage key:

* ``fixed_window`` / ``sliding_window``: ``(window_index, count, previous_count)``;
* ``token_bucket`` (GCRA): the theoretical arrival time in ms, a float.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple


class Algorithm(str, Enum):
    FIXED_WINDOW = "fixed_window"
    SLIDING_WINDOW = "sliding_window"
    TOKEN_BUCKET = "token_bucket"

    @property
    def code(self) -> str:
        """The short name used in storage keys and script arguments."""
        return _CODES[self]


_CODES = {
    Algorithm.FIXED_WINDOW: "fw",
    Algorithm.SLIDING_WINDOW: "sw",
    Algorithm.TOKEN_BUCKET: "tb",
}

WindowState = tuple[int, int, int]
State = WindowState | float


class Verdict(NamedTuple):
    """What a store answers for one hit. Times are milliseconds.

    A NamedTuple rather than a frozen dataclass: one is built per policy per request, and a
    frozen dataclass's ``__init__`` costs four times as much (docs/performance.md).
    """

    allowed: bool
    remaining: int
    reset_ms: int
    retry_ms: int


@dataclass(frozen=True, slots=True)
class Write:
    """A state change to apply if the request is counted."""

    key: str
    state: State
    ttl_ms: int


def decide(
    algorithm: Algorithm,
    key: str,
    state: State | None,
    now: int,
    limit: int,
    window_ms: int,
    cost: int,
) -> tuple[Verdict, Write | None]:
    """Decide one hit against ``state``; return the verdict and the write that counts it."""
    if algorithm is Algorithm.TOKEN_BUCKET:
        return _token_bucket(key, state, now, limit, window_ms, cost)
    return _window(algorithm, key, state, now, limit, window_ms, cost)


def _token_bucket(
    key: str, state: State | None, now: int, limit: int, window_ms: int, cost: int
) -> tuple[Verdict, Write | None]:
    W = float(window_ms)
    fnow = float(now)
    T = W / float(limit)
    tat = state if isinstance(state, float) else fnow
    if tat < fnow:
        tat = fnow
    new_tat = tat + T * float(cost)
    room = W + T * 0.5 - (new_tat - fnow)
    if room >= 0:
        reset = math.ceil(new_tat - fnow)
        return Verdict(True, math.floor(room / T), reset, 0), Write(key, new_tat, max(1, reset))
    remaining = max(0, math.floor((W + T * 0.5 - (tat - fnow)) / T))
    reset = math.ceil(tat - fnow)
    retry = max(1, math.ceil(new_tat - fnow - W - T * 0.5))
    return Verdict(False, remaining, reset, retry), None


def _window(
    algorithm: Algorithm,
    key: str,
    state: State | None,
    now: int,
    limit: int,
    window_ms: int,
    cost: int,
) -> tuple[Verdict, Write | None]:
    sliding = algorithm is Algorithm.SLIDING_WINDOW
    W = window_ms
    w = now // W
    elapsed = now - w * W
    rem = W - elapsed
    cur = prev = 0
    if isinstance(state, tuple):
        w0, c0, p0 = state
        if w0 == w:
            cur, prev = c0, p0
        elif w0 == w - 1:
            prev = c0
    est = cur
    if sliding:
        est = math.ceil(float(prev) * float(rem) / float(W)) + cur
    else:
        prev = 0
    if est + cost <= limit:
        ttl = W + rem if sliding else rem
        return Verdict(True, limit - est - cost, rem, 0), Write(key, (w, cur + cost, prev), ttl)
    if cur + cost <= limit:
        retry = math.ceil(float(rem) - float(limit - cur - cost) * float(W) / float(prev))
    elif sliding and cost <= limit:
        retry = rem + max(0, math.ceil(float(W) - float(limit - cost) * float(W) / float(cur)))
    else:
        retry = rem
    return Verdict(False, max(0, limit - est), rem, max(1, retry)), None


class Hit(NamedTuple):
    """One policy's hit on one client's counter, as a store sees it (a NamedTuple: see Verdict)."""

    key: str
    algorithm: Algorithm
    limit: int
    window_ms: int
    cost: int
    block: bool


def decide_many(
    hits: Sequence[Hit], states: Sequence[State | None], now: int
) -> tuple[list[Verdict], list[Write]]:
    """Decide all hits of one request; the writes are empty if any blocking hit is rejected.

    The same all-or-nothing rule as the Lua script: a rejected request consumes no budget.
    """
    verdicts: list[Verdict] = []
    writes: list[Write] = []
    rejected = False
    for hit, state in zip(hits, states, strict=True):
        verdict, write = decide(
            hit.algorithm, hit.key, state, now, hit.limit, hit.window_ms, hit.cost
        )
        verdicts.append(verdict)
        if write is not None:
            writes.append(write)
        elif hit.block:
            rejected = True
    return verdicts, ([] if rejected else writes)
