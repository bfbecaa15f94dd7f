"""The Lua script and the Python twins decide every sequence alike (real redis-server).

hypothesis draws sequences of (time step, policy set, cost, count-or-peek); both engines run them
with the same injected clock, and every verdict must match field for field.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm, Hit, State, decide_many
from django_ratelimit_guard.stores.redis import RedisStore

T0 = 1_700_000_000_000  # a realistic epoch in ms, so float precision is exercised

hit_specs = st.tuples(
    st.sampled_from(list(Algorithm)),
    st.integers(1, 12),  # limit
    st.sampled_from([1000, 2000, 7000, 60_000]),  # window_ms
    st.integers(1, 4),  # cost
    st.booleans(),  # block
)
steps = st.lists(
    st.tuples(
        st.integers(0, 2500),  # ms since the previous step
        st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True),  # which policies
        st.booleans(),  # count (True) or peek
    ),
    min_size=1,
    max_size=40,
)


class PythonStore:
    def __init__(self) -> None:
        self.states: dict[str, tuple[State, int]] = {}  # key -> (state, expires_at_ms)

    def hit_many(self, hits, *, count, now_ms):
        states = []
        for hit in hits:
            stored = self.states.get(hit.key)
            states.append(stored[0] if stored and stored[1] > now_ms else None)
        verdicts, writes = decide_many(hits, states, now_ms)
        if count:
            for write in writes:
                self.states[write.key] = (write.state, now_ms + write.ttl_ms)
        return verdicts


@pytest.fixture(scope="module")
def lua_store(redis_server):
    return RedisStore("differential", client=redis_server.client())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(hit_specs, min_size=3, max_size=3), sequence=steps, start=st.integers(0, 10**7)
)
def test_lua_and_python_decide_every_sequence_alike(
    lua_store, redis_server, specs, sequence, start
):
    redis_server.flush()
    python = PythonStore()
    now = T0 + start
    for delay, chosen, count in sequence:
        now += delay
        hits = [
            Hit(
                f"rlg:{{c}}:p{i}:{specs[i][0].code}",
                specs[i][0],
                specs[i][1],
                specs[i][2],
                specs[i][3],
                specs[i][4],
            )
            for i in chosen
        ]
        expected = python.hit_many(hits, count=count, now_ms=now)
        actual = lua_store.hit_many(hits, count=count, now_ms=now)
        assert actual == expected, (now, hits)


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_a_full_burst_is_admitted_exactly_then_rejected(lua_store, redis_server, algorithm):
    redis_server.flush()
    hit = Hit("rlg:{b}:burst", algorithm, 7, 60_000, 1, True)
    verdicts = [lua_store.hit_many([hit], now_ms=T0 + 5)[0] for _ in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 7 + [False]
    assert [v.remaining for v in verdicts[:7]] == [6, 5, 4, 3, 2, 1, 0]
    assert verdicts[7].retry_ms >= 1


def test_a_rejected_policy_means_no_policy_of_the_request_is_counted(lua_store, redis_server):
    redis_server.flush()
    wide = Hit("rlg:{a}:wide", Algorithm.FIXED_WINDOW, 100, 60_000, 1, True)
    narrow = Hit("rlg:{a}:narrow", Algorithm.FIXED_WINDOW, 1, 60_000, 1, True)
    lua_store.hit_many([wide, narrow], now_ms=T0)
    rejected = lua_store.hit_many([wide, narrow], now_ms=T0)
    assert [v.allowed for v in rejected] == [True, False]
    assert lua_store.hit_many([wide], count=False, now_ms=T0)[0].remaining == 98  # not 97


def test_shadow_policy_over_its_limit_does_not_block_the_others(lua_store, redis_server):
    redis_server.flush()
    real = Hit("rlg:{s}:real", Algorithm.SLIDING_WINDOW, 10, 60_000, 1, True)
    shadow = Hit("rlg:{s}:shadow", Algorithm.SLIDING_WINDOW, 1, 60_000, 1, False)
    lua_store.hit_many([real, shadow], now_ms=T0)
    verdicts = lua_store.hit_many([real, shadow], now_ms=T0)
    assert [v.allowed for v in verdicts] == [True, False]
    assert lua_store.hit_many([real], count=False, now_ms=T0)[0].remaining == 7


def test_token_bucket_refills_one_token_per_interval(lua_store, redis_server):
    redis_server.flush()
    hit = Hit("rlg:{t}:tb", Algorithm.TOKEN_BUCKET, 10, 10_000, 1, True)  # one token per second
    for _ in range(10):
        assert lua_store.hit_many([hit], now_ms=T0)[0].allowed
    rejected = lua_store.hit_many([hit], now_ms=T0)[0]
    assert not rejected.allowed
    assert rejected.retry_ms == 500
    assert not lua_store.hit_many([hit], now_ms=T0 + 499)[0].allowed
    assert lua_store.hit_many([hit], now_ms=T0 + 1000)[0].allowed


def test_sliding_window_weights_the_previous_window(lua_store, redis_server):
    redis_server.flush()
    hit = Hit("rlg:{w}:sw", Algorithm.SLIDING_WINDOW, 10, 60_000, 1, True)
    window_start = (T0 // 60_000 + 1) * 60_000
    for _ in range(10):
        assert lua_store.hit_many([hit], now_ms=window_start + 1)[0].allowed
    # A quarter into the next window 3/4 of the previous 10 still count: ceil(7.5) = 8, so after
    # this hit 1 is left (rounding up: the estimate never admits more than the weighted count).
    peek = lua_store.hit_many([hit], count=False, now_ms=window_start + 60_000 + 15_000)[0]
    assert peek.remaining == 1
    assert peek.allowed


def test_sliding_window_admits_no_extra_request_just_after_a_window_boundary(
    lua_store, redis_server
):
    redis_server.flush()
    hit = Hit("rlg:{x}:sw", Algorithm.SLIDING_WINDOW, 5, 60_000, 1, True)
    window_start = (T0 // 60_000 + 1) * 60_000
    for _ in range(5):
        assert lua_store.hit_many([hit], now_ms=window_start + 59_990)[0].allowed
    # 20 ms later the previous window's 5 weigh 4.998: rounding down would admit a 6th request.
    assert not lua_store.hit_many([hit], now_ms=window_start + 60_010)[0].allowed
