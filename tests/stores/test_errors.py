"""One classification of store errors: a Redis error leaves the store as a StoreError."""

from __future__ import annotations

import pytest

from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit
from tests.support.redis_servers import free_port


def test_redis_down_raises_store_unavailable_not_a_redis_error(redis):
    store = RedisStore(
        "down", client=__import__("redis").Redis(port=free_port(), socket_connect_timeout=0.2)
    )
    with pytest.raises(StoreUnavailable) as info:
        store.hit_many([hit("k", limit=1, window_ms=1000)])
    assert info.value.reason == "connection"
