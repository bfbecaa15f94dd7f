"""``verdict_now``: a peek's verdict, as of now (issue #13, item 6), held against the algorithms
themselves: what is left now is the number of unit requests the algorithm would admit now."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm, State, decide
from django_ratelimit_guard.core.usage import verdict_now


def admitted_now(
    algorithm: Algorithm, state: State | None, now: int, limit: int, window_ms: int
) -> int:
    """How many cost-1 requests the algorithm admits, one after another, at ``now``."""
    admitted = 0
    while admitted <= limit:
        verdict, write = decide(algorithm, "k", state, now, limit, window_ms, 1)
        if not verdict.allowed:
            break
        assert write is not None
        state = write.state
        admitted += 1
    return admitted


@st.composite
def situations(draw):
    algorithm = draw(st.sampled_from(list(Algorithm)))
    limit = draw(st.integers(1, 50))
    window_ms = draw(st.sampled_from([1000, 7000, 60000, 3600000]))
    now = draw(st.integers(10**12, 10**12 + 10**9))
    cost = draw(st.integers(1, limit + 2))
    # Earlier traffic, as the algorithm itself would have counted it.
    state = None
    t = now - draw(st.integers(0, 3 * window_ms))
    for step in draw(st.lists(st.integers(0, window_ms), max_size=3 * limit)):
        t = min(now, t + step)
        _, write = decide(algorithm, "k", state, t, limit, window_ms, 1)
        if write is not None:
            state = write.state
    return algorithm, state, now, limit, window_ms, cost


@given(situations())
def test_remaining_now_is_what_the_algorithm_would_admit_now(situation):
    algorithm, state, now, limit, window_ms, cost = situation
    peek, _ = decide(algorithm, "k", state, now, limit, window_ms, cost)
    usage = verdict_now(peek, algorithm, limit, window_ms, cost)
    assert usage.remaining == admitted_now(algorithm, state, now, limit, window_ms)
    # "allowed" is whether the next request (of this cost) would pass: the peek's own answer.
    assert usage.allowed == peek.allowed


@given(situations())
def test_usage_now_reports_no_more_than_the_limit_and_no_later_reset(situation):
    algorithm, state, now, limit, window_ms, cost = situation
    peek, _ = decide(algorithm, "k", state, now, limit, window_ms, cost)
    usage = verdict_now(peek, algorithm, limit, window_ms, cost)
    assert 0 <= usage.remaining <= limit
    assert 0 <= usage.reset_ms <= peek.reset_ms
