"""Fixtures of the signing tests: signing settings, an injected clock, the nonce store on Redis
(builders and constants: tests/support/signing.py)."""

from __future__ import annotations

from typing import Any

import pytest

from django_ratelimit_guard.signing.middleware import SignedRequestMiddleware
from tests.support.signing import SIGNED_MIDDLEWARE, Clock, signing_config


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The middleware's wall clock, set by the test."""
    holder = Clock()
    monkeypatch.setattr(SignedRequestMiddleware, "clock", staticmethod(lambda: holder.now))
    return holder


@pytest.fixture
def signed(settings: Any, clock: Clock) -> Any:
    """Settings with SignedRequestMiddleware alone in MIDDLEWARE (no Redis configured yet)."""
    settings.RATELIMIT_GUARD = signing_config()
    settings.MIDDLEWARE = [SIGNED_MIDDLEWARE]
    settings.ROOT_URLCONF = "tests.support.api_urls"
    return settings


@pytest.fixture
def signed_redis(signed: Any, redis: Any) -> Any:
    """``signed`` with the nonce store on the session's real redis-server (flushed)."""
    return redis
