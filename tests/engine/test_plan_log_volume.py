"""A rate or cost callable that misbehaves on every request is logged once per interval with its
count, not once per request (issue #16.4); the first occurrence at once."""

from __future__ import annotations

import logging

from django.test import Client

from django_ratelimit_guard.core import logs
from tests.support.redis_servers import RedisServer


def garbage_rate(request: object) -> str:
    return "many/minute"


def garbage_cost(request: object) -> object:
    return -3


def test_a_bad_rate_and_a_bad_cost_callable_log_one_line_each_with_counts(
    redis: RedisServer,
    settings,  # type: ignore[no-untyped-def]
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {
            "by-rate": {"rate": f"{__name__}.garbage_rate", "key": "ip", "paths": ["/plain/"]},
            "by-cost": {
                "rate": "1000/m",
                "cost": garbage_cost,
                "key": "ip",
                "paths": ["/plain/"],
            },
        },
    }
    caplog.set_level(logging.INFO, "django_ratelimit_guard")
    client = Client()
    for _ in range(100):
        assert client.get("/plain/", REMOTE_ADDR="10.7.0.1").status_code == 200
    rate_lines = [r for r in caplog.records if "rate callable" in r.getMessage()]
    cost_lines = [r for r in caplog.records if "cost callable" in r.getMessage()]
    assert (len(rate_lines), len(cost_lines)) == (1, 1)
    assert logs.aggregator.flush(everything=True) == 2
    summaries = [r for r in caplog.records if "more like this" in r.getMessage()]
    assert sorted(r.suppressed for r in summaries) == [99, 99]  # type: ignore[attr-defined]
