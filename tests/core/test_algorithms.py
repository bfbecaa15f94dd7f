"""The Lua script and the Python twins decide every sequence alike (real redis-server).

hypothesis draws sequences of (time step, policy set, cost, count-or-peek); both engines run them
with the same injected clock, and every verdict must match field for field. (Each algorithm's
verdicts, on every store: tests/stores/test_contract.py.)
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.reference import HIT_SPECS, STEPS, T0, ReferenceStore, hits_of


@pytest.fixture(scope="module")
def lua_store(redis_server):
    return RedisStore("differential", client=redis_server.client())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(HIT_SPECS, min_size=3, max_size=3), sequence=STEPS, start=st.integers(0, 10**7)
)
def test_lua_and_python_decide_every_sequence_alike(
    lua_store, redis_server, specs, sequence, start
):
    redis_server.flush()
    python = ReferenceStore()
    now = T0 + start
    for delay, chosen, count in sequence:
        now += delay
        hits = hits_of(specs, chosen)
        expected = python.hit_many(hits, count=count, now_ms=now)
        actual = lua_store.hit_many(hits, count=count, now_ms=now)
        assert actual == expected, (now, hits)
