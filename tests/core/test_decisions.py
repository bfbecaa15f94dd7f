"""Decision objects: the decision path's fast constructor builds exactly what Decision(...) does."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_ratelimit_guard.core.decisions import Decision, Result, new_decision

_fields = st.tuples(
    st.text(max_size=20),
    st.booleans(),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
    st.floats(0, 1e9, allow_nan=False),
    st.floats(0, 1e9, allow_nan=False),
    st.sampled_from(["redis", "memory", "open", "closed"]),
    st.integers(0, 10**9),
    st.booleans(),
)


@hsettings(deadline=None)  # timing is not what this tests; CI machines are shared
@given(_fields)
def test_new_decision_equals_the_dataclass_constructor(values):
    fast, slow = new_decision(*values), Decision(*values)
    assert type(fast) is Decision
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert dataclasses.astuple(fast) == values
    assert fast.rejected == slow.rejected


def test_a_fast_built_decision_is_still_frozen():
    decision = new_decision("p", True, 10, 9, 1.0, 0.0, "redis", 60, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.remaining = 100  # type: ignore[misc]


def test_result_reads_the_most_restrictive_fast_built_decision():
    ok = new_decision("a", True, 10, 9, 1.0, 0.0, "redis", 60, True)
    limited = new_decision("b", False, 5, 0, 3.0, 3.0, "redis", 60, True)
    result = Result([ok, limited])
    assert result.rejected
    assert result.decision is limited
