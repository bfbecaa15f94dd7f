"""The reference model of a store: the pure-Python algorithms (``core/algorithms.py``) over a dict.

What every store must decide, verdict for verdict: the Lua script is held to it
(tests/core/test_algorithms.py), and so is each store of the contract suite
(tests/stores/test_contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm, Hit, State, Verdict, decide_many
from tests.support.builders import hit as client_hit


class ReferenceStore:
    def __init__(self) -> None:
        self.states: dict[str, tuple[State, int]] = {}  # key -> (state, expires_at_ms)

    def hit_many(self, hits: Sequence[Hit], *, count: bool, now_ms: int) -> list[Verdict]:
        states = []
        for hit in hits:
            stored = self.states.get(hit.key)
            states.append(stored[0] if stored and stored[1] > now_ms else None)
        verdicts, writes = decide_many(hits, states, now_ms)
        if count:
            for write in writes:
                self.states[write.key] = (write.state, now_ms + write.ttl_ms)
        return verdicts

    def reset(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.states.pop(key, None)


# -- sequences to run on a store and on the reference (hypothesis) -----------------------------

#: A realistic epoch in ms, so float precision is exercised.
T0 = 1_700_000_000_000

#: One policy of a client: (algorithm, limit, window_ms, cost, block).
HIT_SPECS = st.tuples(
    st.sampled_from(list(Algorithm)),
    st.integers(1, 12),  # limit
    st.sampled_from([1000, 2000, 7000, 60_000]),  # window_ms
    st.integers(1, 4),  # cost
    st.booleans(),  # block
)
#: One request: ms since the previous step, which of the client's three policies it hits, and
#: whether it counts (True) or peeks.
REQUEST = st.tuples(
    st.integers(0, 2500),
    st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),
    st.booleans(),
)
STEPS = st.lists(REQUEST, min_size=1, max_size=40)
#: ("request", REQUEST) steps, and now and then ("reset", policies): an operator clears some of
#: the client's counters.
STEPS_WITH_RESETS = st.lists(
    st.one_of(
        REQUEST.map(lambda request: ("request", request)),
        st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True).map(
            lambda policies: ("reset", policies)
        ),
    ),
    min_size=1,
    max_size=30,
)


def hits_of(
    specs: Sequence[tuple[Algorithm, int, int, int, bool]], chosen: Sequence[int]
) -> list[Hit]:
    """The hits of one request of client ``c`` to the chosen policies (one Cluster slot)."""
    return [client_hit(f"p{i}", *specs[i], tag="c") for i in chosen]
