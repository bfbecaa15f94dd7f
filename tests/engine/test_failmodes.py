"""Fail modes through the Django stack, against a real redis-server: what each policy answers
while its store can't be used (memory, closed, open).

Outages here are simulated cheaply (a forced-open breaker; tests/support/guards.py);
tests/system/test_chaos.py breaks real redis-server processes.
"""

from __future__ import annotations

from django.test import AsyncClient

from django_ratelimit_guard.engine.breakers import get_breaker
from tests.support.guards import FAIL_MODES

pytestmark = FAIL_MODES


def test_memory_policy_falls_back_to_the_per_worker_share(client, guarded, redis_calls):
    get_breaker("ratelimit").force_open()
    statuses = [client.get("/api/items/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # ceil(5 / 2 workers) = 3
    response = client.get("/api/items/")
    assert response["RateLimit-Policy"] == '"api";q=3;w=60'
    assert redis_calls == []


def test_closed_policy_answers_503_with_retry_after(client, guarded, redis_calls):
    get_breaker("ratelimit").force_open()
    response = client.post("/login/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert redis_calls == []


def test_open_policy_allows_and_says_so(client, guarded, redis_calls):
    get_breaker("ratelimit").force_open()
    for _ in range(5):
        response = client.get("/plain/")
        assert response.status_code == 200
    assert response.wsgi_request.rate_limit.source == "open"  # type: ignore[attr-defined]
    assert redis_calls == []


def test_a_request_denied_by_a_closed_policy_consumes_no_memory_budget(guarded):
    from django.test import RequestFactory

    from django_ratelimit_guard.conf.settings import guard_settings
    from django_ratelimit_guard.engine import limiter

    get_breaker("ratelimit").force_open()
    policies = guard_settings().policies
    request = RequestFactory().post("/api/items/")
    for _ in range(3):
        result = limiter.decide(request, [policies["login"], policies["api"]])
        assert result.source == "closed"
    result = limiter.decide(request, [policies["api"]])
    assert result.remaining == 2  # the first counted hit of 3


async def test_async_views_use_the_same_fail_modes(guarded):
    get_breaker("ratelimit").force_open()
    client = AsyncClient()
    statuses = [(await client.get("/api/items/")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await client.post("/login/")).status_code == 503
