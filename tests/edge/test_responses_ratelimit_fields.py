"""On a rejection the RateLimit field's ``t`` is never earlier than ``Retry-After`` (SPEC §6),
even when a sliding window's retry outlasts its window's reset — and so for a 429 answered from
memory (issue #14), whose times count down."""

from __future__ import annotations

from django.http import HttpResponse

from django_ratelimit_guard.core.decisions import Result, new_decision
from django_ratelimit_guard.edge.responses import rate_limit_headers


def test_t_is_at_least_the_retry_time_on_a_rejection():
    # A sliding window at the end of its window: reset in 2 s, allowed again in 32 s.
    decision = new_decision("api", False, 2, 0, 2.0, 32.0, "redis", 60, True)
    fields = rate_limit_headers(Result([decision]))
    assert fields["RateLimit"] == '"api";r=0;t=32'


def test_t_is_the_reset_when_allowed():
    decision = new_decision("api", True, 2, 1, 17.2, 0.0, "redis", 60, True)
    assert rate_limit_headers(Result([decision]))["RateLimit"] == '"api";r=1;t=18'


def test_a_sliding_window_429_through_the_middleware_has_t_not_before_retry_after(
    client, settings, redis
):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"api": {"rate": "2/m", "key": "ip", "paths": ["/api/"]}},
    }
    responses: list[HttpResponse] = [client.get("/api/items/") for _ in range(4)]
    for response in responses[2:]:
        assert response.status_code == 429
        t = int(response["RateLimit"].rsplit("t=", 1)[1])
        assert t >= int(response["Retry-After"])
