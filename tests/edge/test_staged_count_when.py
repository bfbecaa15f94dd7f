"""count_when: checked without counting before the view, counted after it when the outcome
matches (issue #15), against a real redis-server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import AsyncClient, Client
from django_redis import get_redis_connection

from django_ratelimit_guard.core.decisions import Result
from tests.support import capability_views
from tests.support.capability_settings import guard
from tests.support.windows import inside_one_window

pytestmark = [pytest.mark.urls("tests.support.capability_urls"), pytest.mark.django_db]

WITHOUT_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


@pytest.fixture(autouse=True)
def _open_gate():  # type: ignore[no-untyped-def]
    capability_views.arrived = threading.Semaphore(0)
    capability_views.gate.set()
    yield
    capability_views.gate.set()


@pytest.fixture(params=["middleware", "decorator only"])
def limited(request, settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = guard()
    if request.param == "decorator only":
        settings.MIDDLEWARE = WITHOUT_MIDDLEWARE
    return redis


def login(client: Client, password: str, ip: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"password": password}, REMOTE_ADDR=ip)


def test_five_failed_logins_a_minute_block_the_sixth_attempt(limited):
    client = Client()
    statuses = [login(client, "wrong").status_code for _ in range(5)]
    assert statuses == [401] * 5
    sixth = login(client, "right")
    assert sixth.status_code == 429
    assert int(sixth["Retry-After"]) >= 1
    assert login(Client(), "wrong", ip="203.0.113.8").status_code == 401  # another client


def test_successful_logins_never_count(limited):
    client = Client()
    for _ in range(20):
        assert login(client, "right").status_code == 200
    assert [login(client, "wrong").status_code for _ in range(5)] == [401] * 5
    assert login(client, "right").status_code == 429


def remaining(response) -> int:  # type: ignore[no-untyped-def]
    return int(response["RateLimit"].split(";r=")[1].split(";")[0])


def test_headers_report_the_state_after_this_request(limited):
    client = Client()
    first, second = login(client, "right"), login(client, "right")
    assert remaining(first) == remaining(second)  # successes leave the budget as it was
    failed = login(client, "wrong")
    assert remaining(failed) == remaining(second) - 1  # this failure is already in the header
    assert failed["RateLimit-Policy"] == '"failed-login";q=5;w=60'


def test_a_rejected_attempt_is_not_counted_and_counts_as_limited_in_the_result(limited):
    client = Client()
    for _ in range(5):
        login(client, "wrong")
    rejected = login(client, "wrong")
    assert rejected.status_code == 429
    result = rejected.wsgi_request.rate_limit
    assert isinstance(result, Result) and result.rejected
    assert result["failed-login"].remaining == 0


def test_status_code_list_and_callable_both_decide_what_counts(settings, redis):
    settings.RATELIMIT_GUARD = guard(
        **{
            "failed-login": {
                "rate": "2/m",
                "key": "ip",
                "count_when": "tests.support.capability_settings.failed",
            }
        }
    )
    client = Client()
    assert login(client, "right").status_code == 200
    assert [login(client, "wrong").status_code for _ in range(2)] == [401, 401]
    assert login(client, "right").status_code == 429


def test_a_raising_count_when_counts_the_response_and_is_logged_once(settings, redis, caplog):
    settings.RATELIMIT_GUARD = guard(
        **{
            "failed-login": {
                "rate": "3/m",
                "key": "ip",
                "count_when": "tests.support.capability_settings.broken_count_when",
            }
        }
    )
    client = Client()
    with caplog.at_level("ERROR", logger="django_ratelimit_guard"):
        statuses = [login(client, "right").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    failures = [r for r in caplog.records if "count_when raised" in r.getMessage()]
    assert len(failures) == 1


def test_redis_failing_after_the_response_returns_the_response_as_built(settings, redis):
    settings.RATELIMIT_GUARD = {
        **guard(),
        "BREAKER": {"FAILURE_THRESHOLD": 100, "MIN_CALLS": 1000},
    }
    client = Client()
    capability_views.gate.clear()
    try:
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(login, client, "wrong")
            assert capability_views.arrived.acquire(timeout=10)
            redis.stop()  # between the pre-check and the post-response count
            capability_views.gate.set()
            response = future.result(10)
    finally:
        capability_views.gate.set()
        redis.start()
    assert response.status_code == 401
    assert response.content == b"wrong password"
    # The memory fallback counted it (fail_mode "memory"): the decision says so.
    assert response.wsgi_request.rate_limit["failed-login"].source == "memory"


def test_over_admission_is_bounded_by_the_requests_in_flight(limited):
    """Documented bound: with limit L and C requests of one client in flight, at most
    L + C - 1 matching outcomes are admitted per window; the counter itself never passes L."""
    limit, in_flight = 5, 6
    inside_one_window(60, 8)  # the policy is 5/m: every count below lands in one window
    client = Client()
    for _ in range(limit - 1):
        assert login(client, "wrong").status_code == 401
    capability_views.arrived = threading.Semaphore(0)
    capability_views.gate.clear()
    try:
        with ThreadPoolExecutor(in_flight) as pool:
            futures = [pool.submit(login, Client(), "wrong") for _ in range(in_flight)]
            for _ in range(in_flight):  # every one passed the pre-check before any was counted
                assert capability_views.arrived.acquire(timeout=10)
            capability_views.gate.set()
            statuses = [f.result(10).status_code for f in futures]
    finally:
        capability_views.gate.set()
    assert statuses == [401] * in_flight  # admitted: L - 1 + C = L + C - 1 in the window
    raw = get_redis_connection("ratelimit")
    (key,) = list(raw.scan_iter("rlg:*:failed-login:*"))
    assert int(raw.hget(key, "c")) == limit  # counted up to the limit, not beyond
    assert login(client, "wrong").status_code == 429


@pytest.mark.parametrize("middleware", [True, False])
async def test_async_view_counts_only_failures(settings, redis, middleware):
    settings.RATELIMIT_GUARD = guard()
    if not middleware:
        settings.MIDDLEWARE = []
    client = AsyncClient()
    for _ in range(3):
        ok = await client.post("/async-login/", {"password": "right"}, REMOTE_ADDR="203.0.113.9")
        assert ok.status_code == 200
    for _ in range(5):
        bad = await client.post("/async-login/", {"password": "x"}, REMOTE_ADDR="203.0.113.9")
        assert bad.status_code == 401
    last = await client.post("/async-login/", {"password": "right"}, REMOTE_ADDR="203.0.113.9")
    assert last.status_code == 429


def test_the_pre_check_rejection_is_published_as_limited(limited, subscribe):
    from django_ratelimit_guard.core import bus

    seen: list[Result] = []
    subscribe(bus.limited, lambda request, result: seen.append(result))
    client = Client()
    for _ in range(5):
        login(client, "wrong")
    assert seen == []
    login(client, "wrong")
    assert len(seen) == 1 and seen[0].policy == "failed-login"


def test_concurrent_failures_racing_the_count_never_raise(limited):
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(5):
                login(Client(), "wrong", ip="203.0.113.50")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == []
