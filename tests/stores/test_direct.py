"""The Redis store's lean EVALSHA path and the script's same-window write (real redis-server)."""

from __future__ import annotations

import time

import pytest
import redis

from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.stores.direct import ThreadConnections, direct_pool, evalsha_for
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit
from tests.support.redis_servers import RedisServer


def test_a_plain_client_over_a_plain_pool_takes_the_direct_path(redis_server):
    client = redis_server.client()
    assert direct_pool(client) is client.connection_pool


@pytest.mark.parametrize(
    "client",
    [
        redis.Redis(single_connection_client=True),  # a dedicated connection with its own lock
        type("Custom", (redis.Redis,), {})(),  # a subclass may override evalsha
        redis.Redis(connection_pool=type("Pool", (redis.ConnectionPool,), {})()),
    ],
    ids=["single-connection", "subclass", "custom-pool"],
)
def test_other_clients_keep_their_own_evalsha(client):
    assert direct_pool(client) is None


def test_the_direct_path_decides_like_the_client_path(redis_server):
    redis_server.flush()
    direct = RedisStore("direct", client=redis_server.client())
    through_client = RedisStore("client", client=redis_server.client())
    through_client._evalsha = lambda args: through_client.client.evalsha(*args)
    hits = [hit("a", Algorithm.SLIDING_WINDOW, limit=3)]
    stores = (direct, through_client, direct, through_client)
    verdicts = [store.hit_many(hits)[0] for store in stores]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts[:3]] == [2, 1, 0]


def test_a_frozen_redis_costs_one_socket_timeout_not_a_retry_loop(redis_server):
    redis_server.flush()
    # redis-py 6+ retries timeouts by default; the direct path must wait once, then report.
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.2)
    store = RedisStore("frozen", client=client)
    store.hit_many([hit("c", Algorithm.SLIDING_WINDOW, limit=100)])
    redis_server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.hit_many([hit("c", Algorithm.SLIDING_WINDOW, limit=100)])
        waited = time.monotonic() - started
    finally:
        redis_server.thaw()
    assert caught.value.reason == "timeout"
    assert 0.2 <= waited < 0.35
    # The timed-out connection was dropped, not returned dirty: the next call answers correctly.
    (verdict,) = store.hit_many([hit("c", Algorithm.SLIDING_WINDOW, limit=100)])
    assert verdict.allowed


def test_a_new_connection_to_a_frozen_redis_costs_one_socket_timeout(redis_server):
    # The kernel completes the TCP handshake of a stopped process; redis-py's own handshake then
    # times out. That must be reported after one timeout, not retried.
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=0.2)
    store = RedisStore("frozen-new", client=client)
    redis_server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.hit_many([hit("h", Algorithm.SLIDING_WINDOW, limit=100)])
        waited = time.monotonic() - started
    finally:
        redis_server.thaw()
    assert waited < 0.35


def test_a_stale_pooled_connection_is_replaced_after_a_restart():
    server = RedisServer().start()
    try:
        store = RedisStore("restart", client=server.client())
        store.hit_many([hit("d", Algorithm.SLIDING_WINDOW, limit=100)])
        server.restart()
        (verdict,) = store.hit_many([hit("d", Algorithm.SLIDING_WINDOW, limit=100)])
        assert verdict.allowed  # a fresh Redis, no failure
        assert verdict.remaining == 99
    finally:
        server.close()


def test_a_plain_pool_gets_one_connection_per_thread_and_a_blocking_pool_is_checked_out(
    redis_server,
):
    import threading

    plain = evalsha_for(redis_server.client())
    assert isinstance(plain, ThreadConnections)
    mine = plain.connection()
    assert plain.connection() is mine
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(plain.connection()))
    thread.start()
    thread.join()
    assert other[0] is not mine
    blocking = redis.Redis(
        connection_pool=redis.BlockingConnectionPool(host="127.0.0.1", port=redis_server.port)
    )
    assert not isinstance(evalsha_for(blocking), ThreadConnections)
    redis_server.flush()
    (verdict,) = RedisStore("blocking", client=blocking).hit_many(
        [hit("f", Algorithm.SLIDING_WINDOW, limit=100)]
    )
    assert verdict.allowed
    assert verdict.remaining == 99


def test_a_forked_child_never_uses_the_parents_connection(redis_server, monkeypatch):
    from django_ratelimit_guard.stores import direct

    connections = ThreadConnections(redis_server.client().connection_pool)
    parent = connections.connection()
    monkeypatch.setattr(direct, "_fork_generation", direct._fork_generation + 1)  # as after fork
    assert connections.connection() is not parent


def test_a_connection_the_server_closed_is_replaced_before_use(redis_server):
    redis_server.flush()
    store = RedisStore("killed", client=redis_server.client())
    store.hit_many([hit("g", Algorithm.SLIDING_WINDOW, limit=100)])
    conn = store._evalsha.connection()  # type: ignore[union-attr]
    conn.send_command("CLIENT", "ID")
    client_id = conn.read_response()
    redis_server.client().client_kill_filter(_id=client_id)
    time.sleep(0.05)  # let the close reach our socket
    (verdict,) = store.hit_many([hit("g", Algorithm.SLIDING_WINDOW, limit=100)])
    assert verdict.allowed
    assert verdict.remaining == 98


# -- the pre-packed command (stores/packing.py) ------------------------------------------------


def test_a_connection_with_another_encoding_gets_plain_arguments(redis_server):
    latin = redis.Redis(host="127.0.0.1", port=redis_server.port, encoding="latin-1")
    assert ThreadConnections(latin.connection_pool).packed is None
    assert ThreadConnections(redis_server.client().connection_pool).packed is not None
    redis_server.flush()
    (verdict,) = RedisStore("latin", client=latin).hit_many(
        [hit("é", Algorithm.SLIDING_WINDOW, limit=100)]
    )
    assert verdict.allowed
    assert latin.exists("rlg:{é}:p:sw")


def test_a_stray_reply_is_discarded_before_the_next_command(redis_server):
    # A call interrupted between sending and reading would leave its reply on the socket; the
    # next decision must not read it as its own.
    redis_server.flush()
    store = RedisStore("stray", client=redis_server.client())
    store.hit_many([hit("s", Algorithm.SLIDING_WINDOW, limit=100)])
    conn = store._evalsha.connection()  # type: ignore[union-attr]
    conn.send_command("PING")  # never read
    time.sleep(0.05)
    (verdict,) = store.hit_many([hit("s", Algorithm.SLIDING_WINDOW, limit=100)])
    assert verdict.remaining == 98


def test_tls_sockets_keep_redis_pys_own_close_check():
    import socket
    import ssl

    from django_ratelimit_guard.stores.direct import _poller

    plain = socket.socket()
    tls = ssl.create_default_context().wrap_socket(socket.socket(), server_hostname="redis.invalid")
    try:
        assert _poller(plain) is not None
        assert _poller(tls) is None  # TLS records without a reply must not read as a close
    finally:
        plain.close()
        tls.close()


def test_a_connection_is_closed_once_its_thread_has_ended(redis_server):
    import threading

    connections = ThreadConnections(redis_server.client().connection_pool)
    theirs: list[object] = []

    def call() -> None:
        conn = connections._ready()  # connected
        theirs.append(conn)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    (ended,) = theirs
    assert ended._sock is not None  # type: ignore[attr-defined]  # still open: nobody asked yet
    connections._ready()  # a new thread's first call sweeps the ended ones
    assert ended._sock is None  # type: ignore[attr-defined]
    connections.close()
