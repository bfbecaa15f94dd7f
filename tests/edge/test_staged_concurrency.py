"""Concurrency limits (issue #15): slots taken before the view and given back after it, against
a real redis-server; exact under racing threads and processes; leases that expire."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import django
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, Client
from django_redis import get_redis_connection

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.engine import concurrency
from django_ratelimit_guard.engine.plan import storage_key
from tests.support import capability_views
from tests.support.capability_settings import guard

pytestmark = [pytest.mark.urls("tests.support.capability_urls"), pytest.mark.django_db]

IP = "203.0.113.20"


@pytest.fixture(autouse=True)
def _open_gate():  # type: ignore[no-untyped-def]
    capability_views.arrived = threading.Semaphore(0)
    capability_views.gate.set()
    capability_views.async_gate.clear()
    yield
    capability_views.gate.set()


@pytest.fixture(params=["middleware", "decorator only"])
def limited(request, settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = guard()
    if request.param == "decorator only":
        settings.MIDDLEWARE = []
    return redis


def slots_held(ip: str = IP) -> int:
    config = guard_settings()
    key = storage_key(config, config.policies["exports"], ip)
    return int(get_redis_connection("ratelimit").zcard(key))


def export(query: str = "", ip: str = IP):  # type: ignore[no-untyped-def]
    return Client(raise_request_exception=False).get(f"/export/{query}", REMOTE_ADDR=ip)


def test_a_third_export_in_flight_is_rejected_with_retry_after_one_second(limited):
    capability_views.gate.clear()
    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(export) for _ in range(2)]
        for _ in range(2):
            assert capability_views.arrived.acquire(timeout=10)
        assert slots_held() == 2
        third = export()
        capability_views.gate.set()
        assert [f.result(10).status_code for f in running] == [200, 200]
    assert third.status_code == 429
    assert third["Retry-After"] == "1"
    assert "RateLimit" not in third  # no quota over time to advertise
    assert slots_held() == 0
    assert export().status_code == 200  # the slots came back


def test_another_client_has_its_own_slots(limited):
    capability_views.gate.clear()
    with ThreadPoolExecutor(2) as pool:
        running = [pool.submit(export) for _ in range(2)]
        for _ in range(2):
            assert capability_views.arrived.acquire(timeout=10)
        with ThreadPoolExecutor(1) as other:
            elsewhere = other.submit(export, "", "203.0.113.21")
            assert capability_views.arrived.acquire(timeout=10)
            capability_views.gate.set()
            assert elsewhere.result(10).status_code == 200
        assert [f.result(10).status_code for f in running] == [200, 200]


def test_the_slot_is_given_back_when_the_view_raises(limited):
    for _ in range(3):
        assert export("?fail=1").status_code == 500
    assert slots_held() == 0


def test_a_dead_workers_lease_expires_after_concurrency_timeout(settings, redis):
    settings.RATELIMIT_GUARD = guard(
        exports={"concurrency": 1, "key": "ip", "concurrency_timeout": 1}
    )
    request = Client().get("/", REMOTE_ADDR=IP).wsgi_request
    policy = guard_settings().policies["exports"]
    leases, taken = concurrency.acquire(request, [policy])
    assert taken.allowed and leases  # ...and this "worker" dies without releasing
    assert export().status_code == 429
    time.sleep(1.1)
    assert export().status_code == 200


def test_shadow_mode_concurrency_annotates_but_admits(settings, redis):
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 1, "key": "ip", "block": False})
    capability_views.gate.clear()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(export)
        assert capability_views.arrived.acquire(timeout=10)
        with ThreadPoolExecutor(1) as other:
            second = other.submit(export)
            assert capability_views.arrived.acquire(timeout=10)
            capability_views.gate.set()
            response = second.result(10)
        assert running.result(10).status_code == 200
    assert response.status_code == 200
    assert response.wsgi_request.rate_limit["exports"].allowed is False


def test_memory_fallback_limits_per_process_while_redis_is_down(settings, redis):
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 1, "key": "ip"})
    redis.stop()
    try:
        capability_views.gate.clear()
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(export)
            assert capability_views.arrived.acquire(timeout=10)
            second = export()
            capability_views.gate.set()
            assert running.result(10).status_code == 200
        assert second.status_code == 429
        assert second.wsgi_request.rate_limit["exports"].source == "memory"
        assert export().status_code == 200  # released in memory too
    finally:
        redis.start()


def test_closed_fail_mode_answers_503_while_redis_is_down(settings, redis):
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 1, "key": "ip", "fail_mode": "closed"})
    redis.stop()
    try:
        response = export()
    finally:
        redis.start()
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1


def test_racing_threads_never_exceed_the_limit(settings, redis):
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 3, "key": "ip"})
    policy = guard_settings().policies["exports"]
    request = Client().get("/", REMOTE_ADDR=IP).wsgi_request
    peak, lock, in_flight = [0], threading.Lock(), [0]
    start = threading.Barrier(12)

    def worker() -> int:
        granted = 0
        start.wait()
        for _ in range(30):
            leases, taken = concurrency.acquire(request, [policy])
            if taken.allowed:
                granted += 1
                with lock:
                    in_flight[0] += 1
                    peak[0] = max(peak[0], in_flight[0])
                time.sleep(0.001)
                with lock:
                    in_flight[0] -= 1
                concurrency.release(leases)
        return granted

    with ThreadPoolExecutor(12) as pool:
        granted = sum(pool.map(lambda _: worker(), range(12)))
    assert peak[0] == 3
    assert granted > 0
    assert slots_held() == 0


def _process_worker(url: str, barrier, results, peak_path: str) -> None:  # type: ignore[no-untyped-def]
    """A separate process: its own Django, its own Redis connection, racing the others."""
    import os

    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.settings"
    import django
    from django.conf import settings

    django.setup()
    from tests.support.builders import redis_cache

    settings.CACHES = {**settings.CACHES, "ratelimit": redis_cache(url)}
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 2, "key": "ip"})
    from django.test import RequestFactory

    from django_ratelimit_guard.conf.settings import reset_all

    reset_all()
    policy = guard_settings().policies["exports"]
    request = RequestFactory().get("/", REMOTE_ADDR=IP)
    raw = get_redis_connection("ratelimit")
    key = storage_key(guard_settings(), policy, IP)
    barrier.wait()
    granted, worst = 0, 0
    for _ in range(40):
        leases, taken = concurrency.acquire(request, [policy])
        if taken.allowed:
            granted += 1
            worst = max(worst, int(raw.zcard(key)))  # as Redis sees it, while we hold a slot
            time.sleep(0.002)
            concurrency.release(leases)
    results.put((granted, worst))


def test_racing_processes_never_exceed_the_limit(settings, redis):
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 2, "key": "ip"})
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(redis.url, barrier, results, ""))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    assert max(worst for _, worst in outcomes) <= 2
    assert sum(granted for granted, _ in outcomes) > 0
    assert slots_held() == 0


@pytest.mark.parametrize("middleware", [True, False])
async def test_async_view_gives_the_slot_back(settings, redis, middleware):
    settings.RATELIMIT_GUARD = guard()
    if not middleware:
        settings.MIDDLEWARE = []
    client = AsyncClient()
    for _ in range(4):
        response = await client.get("/async-export/", REMOTE_ADDR=IP)
        assert response.status_code == 200
    assert slots_held() == 0


async def test_an_asgi_client_disconnect_gives_the_slot_back(settings, redis):
    """Django's ASGI handler (5.0 and later) cancels the view's task when the client disconnects."""
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 1, "key": "ip"})
    event = capability_views.async_gate["export"] = asyncio.Event()
    app = ASGIHandler()
    messages: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await messages.put({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return await messages.get()

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/async-export/",
        "raw_path": b"/async-export/",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": (IP, 5000),
        "server": ("testserver", 80),
    }
    served = asyncio.create_task(app(scope, receive, send))
    for _ in range(200):  # the view is running and holds the slot
        if slots_held() == 1:
            break
        await asyncio.sleep(0.01)
    assert slots_held() == 1
    await messages.put({"type": "http.disconnect"})
    if django.VERSION < (5, 0):
        # Django 4.2's handler does not listen for the disconnect: the view runs to its end and
        # the slot comes back with its response (docs/concurrency.md says so).
        await asyncio.sleep(0.2)
        assert slots_held() == 1
        event.set()
        await asyncio.wait_for(served, 10)
        assert slots_held() == 0
        return
    await asyncio.wait_for(served, 10)
    assert not event.is_set() and sent == []  # the view never finished; nothing was sent
    # The release is shielded: it runs to its end even when the handler's task is done first.
    for _ in range(200):
        if slots_held() == 0:
            break
        await asyncio.sleep(0.01)
    assert slots_held() == 0


def test_check_refuses_a_concurrency_policy_naming_the_fix(settings, redis):
    from django_ratelimit_guard import check

    settings.RATELIMIT_GUARD = guard()
    request = Client().get("/", REMOTE_ADDR=IP).wsgi_request
    with pytest.raises(TypeError, match="apply it to the view"):
        check(request, "exports")


def test_a_streaming_response_holds_its_slot_until_its_body_is_sent(settings, redis):
    settings.RATELIMIT_GUARD = guard(exports={"concurrency": 1, "key": "ip"})
    capability_views.gate.clear()

    def stream() -> tuple[int, bytes]:
        response = Client().get("/streamed-export/", REMOTE_ADDR=IP)
        body = b"".join(response.streaming_content)
        response.close()  # as a WSGI server does after the last chunk
        return response.status_code, body

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(stream)
        assert capability_views.arrived.acquire(timeout=10)  # the first chunk is out
        assert slots_held() == 1
        assert export().status_code == 429  # the slot is still held while streaming
        capability_views.gate.set()
        assert running.result(10) == (200, b"id,name\n1,apple\n")
    assert slots_held() == 0
