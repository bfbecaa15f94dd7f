"""stores/health.py: the PING a health check sends, per kind of client."""

from __future__ import annotations

import fakeredis
import redis as redis_py

from django_ratelimit_guard.stores.health import pinger
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.redis_servers import RedisServer


def test_a_plain_client_is_checked_on_a_fresh_connection_left_closed(redis: RedisServer) -> None:
    client = redis_py.Redis(host="127.0.0.1", port=redis.port, socket_timeout=0.2)
    ping = pinger(RedisStore("ratelimit", client), "ratelimit")
    assert ping is not None
    before = redis.client().info("clients")["connected_clients"]
    assert ping() in (b"PONG", "PONG", True)
    assert redis.client().info("clients")["connected_clients"] == before  # closed again
    assert client.connection_pool._created_connections == 0  # the pool was never used


def test_a_client_we_cannot_see_into_is_checked_with_its_own_ping() -> None:
    client = fakeredis.FakeRedis()  # not a plain redis.Redis: no pool we know how to copy
    ping = pinger(RedisStore("fake", client), "fake")
    assert ping is not None
    assert ping() is True
