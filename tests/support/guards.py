"""``RATELIMIT_GUARD`` configurations several test modules share (``pytest.mark.guard`` markers
for the ``guarded`` fixture), and cheap outages.

``FAIL_MODES``: one policy per fail mode (``login`` closed and critical, ``api`` memory, ``public``
open) and a breaker that opens after two failures and probes again after 10-20 ms, for the
engine's fail-mode and recovery tests through the Django stack. An outage there is a store that
raises (``outage``); a refused port or a forced-open breaker are cheaper still.
tests/system/test_chaos.py breaks real redis-server processes instead.

``NATIVE_ASYNC``: two policies (a sliding window and a token bucket) for ``acheck`` on
redis.asyncio, and a breaker that stays open once two calls failed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import breaker_settings, recovering_breaker

FAIL_MODE_POLICIES = {
    "login": {
        "rate": "3/m",
        "key": "ip",
        "methods": ["POST"],
        "fail_mode": "closed",
        "critical": True,
    },
    "api": {"rate": "5/m", "key": "ip", "paths": ["/api/"], "fail_mode": "memory"},
    "public": {"rate": "2/m", "key": "ip", "paths": ["/plain/"], "fail_mode": "open"},
}

FAIL_MODES = pytest.mark.guard(
    FAIL_MODE_POLICIES,
    breaker=recovering_breaker(2, 0.01, slow_call_seconds=1.0),
    fallback={"WORKERS": 2},
)


def native_async(on: str = "redis") -> pytest.MarkDecorator:
    """The NATIVE_ASYNC configuration on another deployment (``on="own_redis"``: a server of the
    test alone, whose every connection is the test's own)."""
    return pytest.mark.guard(
        {
            "api": {"rate": "5/m", "key": "ip"},
            "tb": {"rate": "9/m", "key": "ip", "algorithm": "token_bucket"},
        },
        breaker=breaker_settings(2, 30),
        on=on,
    )


NATIVE_ASYNC = native_async()
#: The client address of the NATIVE_ASYNC tests' requests, unless they need several.
ASYNC_CLIENT = "203.0.113.30"


def outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Redis store call fails as a refused connection would."""

    def down(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("down", scope=self.scope, reason="connection")

    monkeypatch.setattr(RedisStore, "hit_many", down)


def wait_for_probe() -> None:
    time.sleep(0.03)  # the breaker's RESET_TIMEOUT is 0.01-0.02 s under FAIL_MODES
