"""Cheap outages, for the engine's fail-mode and recovery tests through the Django stack.

``FAIL_MODES`` configures the ``guarded`` fixture: one policy per fail mode (``login`` closed and
critical, ``api`` memory, ``public`` open) and a breaker that opens after two failures and probes
again after 10-20 ms. An outage is a store that raises (``outage``); a refused port or a
forced-open breaker are cheaper still. tests/system/test_chaos.py breaks real redis-server
processes instead.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_ratelimit_guard.core.exceptions import StoreUnavailable
from django_ratelimit_guard.stores.redis import RedisStore
from tests.support.builders import recovering_breaker

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


def outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Redis store call fails as a refused connection would."""

    def down(self: RedisStore, hits: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("down", scope=self.scope, reason="connection")

    monkeypatch.setattr(RedisStore, "hit_many", down)


def wait_for_probe() -> None:
    time.sleep(0.03)  # the breaker's RESET_TIMEOUT is 0.01-0.02 s under FAIL_MODES
