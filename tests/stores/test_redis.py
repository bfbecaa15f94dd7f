"""The Redis store: one EVALSHA of decide.lua per request, atomic across processes, its TTLs."""

from __future__ import annotations

import multiprocessing

import pytest
import redis

from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import hit

W = 60_000


def server_ms(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


@pytest.mark.parametrize(
    ("algorithm", "windows"), [(Algorithm.SLIDING_WINDOW, 2), (Algorithm.FIXED_WINDOW, 1)]
)
def test_a_same_window_hit_keeps_the_expiry_at_the_end_of_the_window(
    redis_server, algorithm, windows
):
    redis_server.flush()
    client = redis_server.client()
    store = RedisStore("expiry", client=client)
    same = hit("e", algorithm, limit=100)
    key = same.key
    store.hit_many([same])
    store.hit_many([same])  # same window (unless the test straddles a boundary)
    now = server_ms(client)
    pttl = client.pttl(key)
    # The state must live until the window that still reads it has ended, and no longer.
    end = (now // W + windows) * W
    assert end - now - 50 <= pttl <= end - now + 5
    assert client.hget(key, "c") == b"2"


def test_close_closes_every_threads_connection_and_a_later_call_reconnects(redis_server):
    redis_server.flush()
    store = RedisStore("closing", client=redis_server.client())
    store.hit_many([hit("c2", Algorithm.SLIDING_WINDOW, limit=100)])
    conn = store._evalsha.connection()  # type: ignore[union-attr]
    store.close()
    assert conn._sock is None
    (verdict,) = store.hit_many([hit("c2", Algorithm.SLIDING_WINDOW, limit=100)])
    assert verdict.remaining == 98  # a new connection, the same counter
    store.close()


def _race(url: str, n: int, queue) -> None:  # runs in a child process
    import redis as redis_py

    store = RedisStore("race", client=redis_py.Redis.from_url(url))
    race = hit("race", limit=100, window_ms=600_000)
    queue.put(sum(store.hit_many([race])[0].allowed for _ in range(n)))


def test_eight_processes_racing_on_one_key_admit_exactly_the_limit(redis):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_race, args=(redis.url, 60, queue)) for _ in range(8)]
    for w in workers:
        w.start()
    admitted = sum(queue.get(timeout=60) for _ in workers)
    for w in workers:
        w.join(10)
    assert admitted == 100
