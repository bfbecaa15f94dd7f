"""Why a remembered denial is exact (``engine/local.py``): for every algorithm, a hit Redis denied
at ``t0`` with retry ``r`` is denied again at any time before ``t0 + r``, whatever else is counted
on that key meanwhile (counts only add); and with nothing counted meanwhile, ``t0 + r`` is the very
first millisecond it is allowed (so ``Retry-After`` is exact, and the local deadline, which ends
earlier, never denies what Redis would allow). Checked on the Lua script (real redis-server, the
clock injected through its ``now`` argument) and on its Python twin, key expiry included."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.reference import T0, ReferenceStore

KEY = "rlg:{exact}:p"

specs = st.tuples(
    st.sampled_from(list(Algorithm)),
    st.integers(1, 20),  # limit
    st.sampled_from([1000, 7000, 60_000, 3_600_000]),  # window_ms
    st.integers(1, 25),  # cost of the denied hit
)
before = st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 8)), max_size=25)
# Later requests on the same key: (where in [t0, t0 + r), as a fraction; cost)
meanwhile = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 8)), max_size=8)


@pytest.fixture(scope="module")
def lua_store(redis_server):  # type: ignore[no-untyped-def]
    return RedisStore("exactness", client=redis_server.client())


def stores(lua_store, redis_server):  # type: ignore[no-untyped-def]
    redis_server.flush()
    return [ReferenceStore(), lua_store]


def deny(store, spec, history, start):  # type: ignore[no-untyped-def]
    """Count ``history`` from ``start``, then the hit until it is denied: (hit, verdict, t0)."""
    algorithm, limit, window, cost = spec
    now = T0 + start
    for delay, c in history:
        now += delay
        store.hit_many([Hit(KEY, algorithm, limit, window, c, True)], count=True, now_ms=now)
    hit = Hit(KEY, algorithm, limit, window, cost, True)
    for _ in range(limit + 1):  # each allowed one counts at least 1: denied by the end
        (verdict,) = store.hit_many([hit], count=True, now_ms=now)
        if not verdict.allowed:
            return hit, verdict, now
    raise AssertionError("never denied")


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spec=specs,
    history=before,
    start=st.integers(0, 10**7),
    later=meanwhile,
    probe=st.floats(0, 1, exclude_max=True),
)
def test_a_denied_hit_stays_denied_until_its_retry_time_whatever_is_counted_meanwhile(
    lua_store, redis_server, spec, history, start, later, probe
):
    for store in stores(lua_store, redis_server):
        hit, verdict, t0 = deny(store, spec, history, start)
        retry = verdict.retry_ms
        at = t0 + int(probe * retry)
        for fraction, cost in sorted(later):
            when = t0 + int(fraction * retry)
            if when > at:
                break
            other = Hit(KEY, hit.algorithm, hit.limit, hit.window_ms, cost, True)
            store.hit_many([other], count=True, now_ms=when)
        (again,) = store.hit_many([hit], count=False, now_ms=at)
        assert not again.allowed, (store, spec, t0, retry, at)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=specs, history=before, start=st.integers(0, 10**7))
def test_with_nothing_counted_meanwhile_the_retry_time_is_the_first_allowed_millisecond(
    lua_store, redis_server, spec, history, start
):
    assume(spec[3] <= spec[1])  # a cost over the limit is never allowed
    for store in stores(lua_store, redis_server):
        hit, verdict, t0 = deny(store, spec, history, start)
        (at_retry,) = store.hit_many([hit], count=False, now_ms=t0 + verdict.retry_ms)
        assert at_retry.allowed, (store, spec, t0, verdict)
