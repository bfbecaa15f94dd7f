"""SignedRequestMiddleware end to end, nonces in a real redis-server: what it lets through, every
refusal the same 401, the clock window, bodies, async; generated hostile requests never a 5xx."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import AsyncClient, Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_ratelimit_guard.ops.metrics import signature_failure_count as failure_count
from django_ratelimit_guard.signing import (
    scheme,
)
from tests.support.signing import (
    EXAMPLES,
    HOST,
    KEY_ID,
    NOW,
    OLD_SECRET,
    OTHER_KEY_ID,
    OTHER_SECRET,
    REFUSAL,
    SECRET,
    SKEW,
    Clock,
    asgi_headers,
    hostile_headers,
    latin1,
    send,
    signed_headers,
)


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


def test_a_replay_after_the_window_is_refused_by_the_clock(signed_redis: Any, clock: Clock) -> None:
    headers = signed_headers(nonce="replayed-nonce-0002")
    assert send(Client(), **headers).status_code == 200
    signed_redis.client().flushall()  # even with the nonce forgotten, the timestamp is stale
    clock.now += SKEW + 1
    assert send(Client(), **headers).status_code == 401


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


async def test_async_stack_verifies_and_refuses(signed_redis: Any) -> None:
    client = AsyncClient()
    ok = await client.get("/api/async/", headers=asgi_headers(signed_headers(path="/api/async/")))
    assert ok.status_code == 200
    assert json.loads(ok.content) == {"api_key_id": KEY_ID}
    bad = await client.get(
        "/api/async/", headers=asgi_headers(signed_headers(path="/api/async/", secret="w" * 40))
    )
    assert bad.status_code == 401
    assert json.loads(bad.content) == REFUSAL


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


FIXTURES_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


_nonces = itertools.count()


def fresh_nonce() -> str:
    # Unique per call: hypothesis re-runs examples while shrinking; that must not look like replay.
    return f"hypothesis-nonce-{next(_nonces):012d}"


segment = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


pairs = st.lists(st.tuples(segment, segment), max_size=5)


methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])


@settings(max_examples=EXAMPLES["roundtrip"], deadline=None, suppress_health_check=FIXTURES_OK)
@given(methods, st.lists(segment, max_size=4), pairs, st.booleans(), st.binary(max_size=2000))
def test_any_correctly_signed_request_is_accepted(
    signed_redis: Any,
    method: str,
    segments: list[str],
    query_pairs: list[tuple[str, str]],
    plus_for_space: bool,
    body: bytes,
) -> None:
    path = quote(("/api/" + "/".join(segments)).encode("utf-8"), safe="/")
    encode = (
        (lambda s: quote(s.encode(), safe="").replace("%20", "+"))
        if plus_for_space
        else (lambda s: quote(s.encode(), safe=""))
    )
    query = "&".join(f"{encode(n)}={encode(v)}" for n, v in query_pairs)
    target = f"{path}?{query}" if query else path
    headers = signed_headers(method, target, body, nonce=fresh_nonce())
    response = send(Client(), method, target, body, **headers)
    assert response.status_code == 200, response.content
    if method != "HEAD":
        assert response.json()["api_key_id"] == KEY_ID


@settings(max_examples=EXAMPLES["headers"], deadline=None, suppress_health_check=FIXTURES_OK)
@given(hostile_headers)
def test_hostile_authorization_headers_are_401(signed_redis: Any, header: str) -> None:
    response = send(Client(), HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing request signature"}


@settings(max_examples=EXAMPLES["requests"], deadline=None, suppress_health_check=FIXTURES_OK)
@given(
    path_info=st.one_of(latin1.map(lambda p: "/api/" + p), latin1, st.just("/api/" + "a" * 10000)),
    header=st.one_of(hostile_headers, st.just(None)),
    body=st.one_of(st.binary(max_size=3000), st.just(b"")),
    content_length=st.one_of(
        st.none(), st.sampled_from(["", "-1", "abc", "99999999999", "0", " 5"])
    ),
    host=st.one_of(
        st.none(), latin1, st.sampled_from(["", "a b", "[::1", "x:99999", "evil.example:80"])
    ),
    query=latin1,
)
def test_hostile_requests_never_get_a_5xx(
    signed_redis: Any,
    path_info: str,
    header: str | None,
    body: bytes,
    content_length: str | None,
    host: str | None,
    query: str,
) -> None:
    extra: dict[str, str] = {"PATH_INFO": path_info, "QUERY_STRING": query}
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    if content_length is not None:
        extra["CONTENT_LENGTH"] = content_length
    if host is not None:
        extra["HTTP_HOST"] = host
    response = send(Client(), "POST", "/api/x", body, **extra)
    assert response.status_code < 500


@settings(max_examples=EXAMPLES["mutations"], deadline=None, suppress_health_check=FIXTURES_OK)
@given(st.data())
def test_any_single_character_change_to_a_valid_header_is_refused(
    signed_redis: Any, data: Any
) -> None:
    header = signed_headers(nonce=fresh_nonce())["HTTP_AUTHORIZATION"]
    index = data.draw(st.integers(0, len(header) - 1))
    replacement = data.draw(st.characters(max_codepoint=0x2FF).filter(lambda c: c != header[index]))
    mutated = header[:index] + replacement + header[index + 1 :]
    assert send(Client(), HTTP_AUTHORIZATION=mutated).status_code == 401


@settings(max_examples=EXAMPLES["timestamps"], deadline=None, suppress_health_check=FIXTURES_OK)
@given(
    st.one_of(
        st.integers(NOW - 3 * SKEW, NOW + 3 * SKEW),
        st.integers(-(10**6), 10**14),
        st.sampled_from([NOW - SKEW - 1, NOW - SKEW, NOW + SKEW, NOW + SKEW + 1, 0]),
    )
)
def test_only_timestamps_inside_the_window_are_accepted(signed_redis: Any, timestamp: int) -> None:
    # Signed correctly whatever the timestamp, so the clock check alone decides.
    nonce = fresh_nonce()
    message = scheme.string_to_sign("GET", "/api/t", "", HOST, timestamp, nonce, KEY_ID, b"")
    sig = scheme.signature(SECRET.encode(), message)
    header = f"RLG1-HMAC-SHA256 keyId={KEY_ID},ts={timestamp},nonce={nonce},sig={sig}"
    status = send(Client(), path="/api/t", HTTP_AUTHORIZATION=header).status_code
    expected_ok = (
        scheme.TS_RE.fullmatch(str(timestamp)) is not None and abs(NOW - timestamp) <= SKEW
    )
    assert status == (200 if expected_ok else 401)
