"""SignedRequestMiddleware end to end, nonces in a real redis-server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import AsyncClient, Client

from django_ratelimit_guard.ops.metrics import signature_failure_count as failure_count
from tests.security.conftest import (
    KEY_ID,
    NOW,
    OLD_SECRET,
    OTHER_KEY_ID,
    OTHER_SECRET,
    SECRET,
    SKEW,
    Clock,
    send,
    signed_headers,
)

REFUSAL = {"error": "invalid or missing request signature"}


def test_signed_request_reaches_the_view_with_its_key_id(signed_redis: Any) -> None:
    response = send(
        Client(),
        "POST",
        "/api/items/?b=2&a=1",
        b'{"x": 1}',
        **signed_headers("POST", "/api/items/?b=2&a=1", b'{"x": 1}'),
    )
    assert response.status_code == 200
    assert response.json() == {
        "api_key_id": KEY_ID,
        "body_length": 8,
        "query": [["a", ["1"]], ["b", ["2"]]],
    }


def test_a_rotated_out_secret_still_verifies_while_listed(signed_redis: Any) -> None:
    response = send(Client(), **signed_headers(secret=OLD_SECRET))
    assert response.status_code == 200
    assert response.json()["api_key_id"] == KEY_ID


def test_each_key_id_verifies_only_with_its_own_secrets(signed_redis: Any) -> None:
    assert (
        send(Client(), **signed_headers(key_id=OTHER_KEY_ID, secret=OTHER_SECRET)).status_code
        == 200
    )
    assert send(Client(), **signed_headers(key_id=OTHER_KEY_ID, secret=SECRET)).status_code == 401


# (name, what is signed, what is sent, reason counted)
FAILURES = [
    ("no header", None, {}, "missing"),
    ("other scheme", None, {"HTTP_AUTHORIZATION": "Bearer abcdef"}, "malformed"),
    ("wrong secret", {"secret": "x" * 40}, {}, "bad_signature"),
    ("unknown key id", {"key_id": "nobody"}, {}, "unknown_key"),
    ("body changed", {"body": b"signed"}, {"body": b"sent"}, "bad_signature"),
    ("method changed", {"method": "POST"}, {"method": "PUT"}, "bad_signature"),
    ("path changed", {"path": "/api/a/"}, {"path": "/api/b/"}, "bad_signature"),
    ("query changed", {"path": "/api/a/?x=1"}, {"path": "/api/a/?x=2"}, "bad_signature"),
    ("query added", {"path": "/api/a/"}, {"path": "/api/a/?admin=1"}, "bad_signature"),
    ("host changed", {}, {"HTTP_HOST": "evil.example"}, "bad_signature"),
    ("too old", {"timestamp": NOW - SKEW - 1}, {}, "skew"),
    ("from the future", {"timestamp": NOW + SKEW + 1}, {}, "skew"),
]


@pytest.mark.parametrize(
    ("name", "signed_as", "sent_as", "reason"), FAILURES, ids=[f[0] for f in FAILURES]
)
def test_every_failure_is_the_same_401_and_counts_its_reason(
    signed_redis: Any,
    name: str,
    signed_as: dict[str, Any] | None,
    sent_as: dict[str, Any],
    reason: str,
) -> None:
    sent = dict(sent_as)
    method = sent.pop("method", (signed_as or {}).get("method", "GET"))
    path = sent.pop("path", (signed_as or {}).get("path", "/api/items/"))
    body = sent.pop("body", (signed_as or {}).get("body", b""))
    extra = signed_headers(**signed_as) if signed_as is not None else {}
    extra.update(sent)
    before = failure_count(reason)
    response = send(Client(), method, path, body, **extra)
    assert response.status_code == 401
    assert response.json() == REFUSAL
    assert response["WWW-Authenticate"] == "RLG1-HMAC-SHA256"
    assert failure_count(reason) == before + 1


def test_refusals_are_logged_with_their_reason(
    signed_redis: Any, caplog: pytest.LogCaptureFixture
) -> None:
    send(Client(), **signed_headers(key_id="nobody"))
    assert any(getattr(r, "reason", None) == "unknown_key" for r in caplog.records)


def test_a_replay_inside_the_window_is_refused(signed_redis: Any, clock: Clock) -> None:
    headers = signed_headers(nonce="replayed-nonce-0001")
    assert send(Client(), **headers).status_code == 200
    clock.now += SKEW - 1
    before = failure_count("replay")
    response = send(Client(), **headers)
    assert response.status_code == 401
    assert response.json() == REFUSAL
    assert failure_count("replay") == before + 1


def test_a_replay_after_the_window_is_refused_by_the_clock(signed_redis: Any, clock: Clock) -> None:
    headers = signed_headers(nonce="replayed-nonce-0002")
    assert send(Client(), **headers).status_code == 200
    signed_redis.client().flushall()  # even with the nonce forgotten, the timestamp is stale
    clock.now += SKEW + 1
    assert send(Client(), **headers).status_code == 401


def test_the_nonce_lives_twice_the_skew_under_the_key_prefix_and_a_hash_tag(
    signed_redis: Any,
) -> None:
    assert send(Client(), **signed_headers(nonce="ttl-checked-nonce-01")).status_code == 200
    keys = signed_redis.client().keys("*")
    assert len(keys) == 1
    key = keys[0].decode()
    assert key.startswith("rlg:{")
    assert key.endswith("}:nonce")
    assert "ttl-checked" not in key  # hashed, like every key value
    assert KEY_ID not in key
    assert 2 * SKEW - 2 <= signed_redis.client().ttl(key) <= 2 * SKEW


def test_the_same_nonce_under_another_key_id_is_not_a_replay(signed_redis: Any) -> None:
    assert send(Client(), **signed_headers(nonce="shared-nonce-00001")).status_code == 200
    other = signed_headers(nonce="shared-nonce-00001", key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    assert send(Client(), **other).status_code == 200


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (-SKEW - 1, 401),
        (-SKEW, 200),
        (-SKEW + 1, 200),
        (SKEW - 1, 200),
        (SKEW, 200),
        (SKEW + 1, 401),
    ],
)
def test_the_skew_window_is_symmetric(
    signed_redis: Any, clock: Clock, offset: int, status: int
) -> None:
    clock.now = NOW + offset
    assert send(Client(), **signed_headers(timestamp=NOW)).status_code == status


def test_fractional_clock_just_past_the_window_is_refused(signed_redis: Any, clock: Clock) -> None:
    clock.now = NOW + SKEW + 0.001
    assert send(Client(), **signed_headers(timestamp=NOW)).status_code == 401


def test_unsigned_paths_and_exempt_paths_pass_untouched(signed_redis: Any) -> None:
    assert send(Client(), path="/open/").json()["api_key_id"] is None
    assert send(Client(), path="/api/health").content == b"ok"
    assert signed_redis.client().dbsize() == 0


def test_a_refused_request_stores_no_nonce(signed_redis: Any) -> None:
    send(Client(), **signed_headers(secret="wrong" * 8))
    assert signed_redis.client().dbsize() == 0


def test_a_body_over_the_upload_limit_is_413_before_any_crypto(
    signed_redis: Any, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b"x" * 1001
    response = send(Client(), "POST", "/api/items/", body, **signed_headers("POST", body=body))
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}


def test_a_malformed_content_length_is_refused_not_a_500(signed_redis: Any) -> None:
    response = send(
        Client(), "POST", "/api/items/", b"", CONTENT_LENGTH="abc", **signed_headers("POST")
    )
    assert response.status_code == 401


def test_the_body_is_still_readable_by_the_view_after_verification(signed_redis: Any) -> None:
    body = b"a=1&b=2"
    response = send(Client(), "POST", "/api/items/", body, **signed_headers("POST", body=body))
    assert response.json()["body_length"] == len(body)


def _asgi(extra: dict[str, str]) -> dict[str, str]:
    return {"Authorization": extra["HTTP_AUTHORIZATION"]}


async def test_async_stack_verifies_and_refuses(signed_redis: Any) -> None:
    client = AsyncClient()
    ok = await client.get("/api/async/", headers=_asgi(signed_headers(path="/api/async/")))
    assert ok.status_code == 200
    assert json.loads(ok.content) == {"api_key_id": KEY_ID}
    bad = await client.get(
        "/api/async/", headers=_asgi(signed_headers(path="/api/async/", secret="w" * 40))
    )
    assert bad.status_code == 401
    assert json.loads(bad.content) == REFUSAL


async def test_async_replay_is_refused(signed_redis: Any) -> None:
    client = AsyncClient()
    headers = _asgi(signed_headers(path="/api/async/?q=caf%C3%A9", nonce="async-replay-00001"))
    assert (await client.get("/api/async/?q=caf%C3%A9", headers=headers)).status_code == 200
    assert (await client.get("/api/async/?q=caf%C3%A9", headers=headers)).status_code == 401


def test_policies_keyed_on_api_key_count_per_verified_key_id(
    signed_redis: Any, settings: Any
) -> None:
    config = dict(settings.RATELIMIT_GUARD)
    config["POLICIES"] = {"per-client": {"rate": "2/m", "key": "api_key", "paths": ["/api/"]}}
    settings.RATELIMIT_GUARD = config
    settings.MIDDLEWARE = [
        "django_ratelimit_guard.middleware.SignedRequestMiddleware",
        "django_ratelimit_guard.middleware.RateLimitMiddleware",
    ]
    client = Client()
    statuses = [send(client, **signed_headers()).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    other = signed_headers(key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    assert send(client, **other).status_code == 200
