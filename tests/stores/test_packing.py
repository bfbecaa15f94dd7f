"""The decision's EVALSHA pre-packed as RESP bytes: byte for byte what redis-py would send."""

from __future__ import annotations

import redis
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm, Hit

_key_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)


_hits = st.builds(
    Hit,
    key=_key_text,
    algorithm=st.sampled_from(list(Algorithm)),
    limit=st.integers(1, 10**12),
    window_ms=st.integers(1, 10**12),
    cost=st.integers(1, 10**6),
    block=st.booleans(),
)


@hsettings(deadline=None)  # timing is not what this tests; CI machines are shared
@given(
    hits=st.lists(_hits, min_size=1, max_size=5),
    count=st.booleans(),
    now_ms=st.none() | st.integers(0, 2**53),
)
def test_a_packed_command_is_byte_for_byte_what_redis_py_would_send(hits, count, now_ms):
    from django_ratelimit_guard.stores.packing import pack_decide
    from django_ratelimit_guard.stores.redis import script_args
    from django_ratelimit_guard.stores.scripts import DECIDE

    args = [DECIDE.sha, len(hits), *script_args(hits, count, now_ms)]
    expected = b"".join(redis.Connection().pack_command("EVALSHA", *args))
    assert pack_decide(DECIDE.sha, hits, count, now_ms) == expected
