"""Fixtures for the security suite: signing settings, an injected clock, signed requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from django_ratelimit_guard.signing import sign
from django_ratelimit_guard.signing.middleware import SignedRequestMiddleware

KEY_ID = "client-1"
SECRET = "test-secret-for-client-1-0123456789abcdef"  # 41 bytes
OLD_SECRET = "old-secret-of-client-1-being-rotated-out-xyz"
OTHER_KEY_ID = "client-2"
OTHER_SECRET = "test-secret-for-client-2-0123456789abcdef"
NOW = 1_700_000_000
SKEW = 60
SIGNED_MIDDLEWARE = "django_ratelimit_guard.middleware.SignedRequestMiddleware"
HOST = "testserver"


def signing_config(**overrides: Any) -> dict[str, Any]:
    signing = {
        "KEYS": {KEY_ID: [SECRET, OLD_SECRET], OTHER_KEY_ID: [OTHER_SECRET]},
        "PATHS": ["/api/"],
        "EXEMPT_PATHS": ["/api/health"],
        "MAX_SKEW_SECONDS": SKEW,
        "FAIL_MODE": "closed",
        **overrides,
    }
    return {"CACHE_ALIAS": "ratelimit", "SIGNING": signing}


@dataclass
class Clock:
    now: float = NOW


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


def signed_headers(
    method: str = "GET",
    path: str = "/api/items/",
    body: bytes = b"",
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    timestamp: int = NOW,
    nonce: str | None = None,
) -> dict[str, str]:
    """Django test-client ``extra`` carrying the Authorization header for this request."""
    headers = sign(
        method, f"http://{HOST}{path}", body, key_id, secret, timestamp=timestamp, nonce=nonce
    )
    return {"HTTP_AUTHORIZATION": headers["Authorization"]}


def send(
    client: Client,
    method: str = "GET",
    path: str = "/api/items/",
    body: bytes = b"",
    **extra: Any,
) -> Any:
    return client.generic(method, path, body, content_type="application/octet-stream", **extra)
