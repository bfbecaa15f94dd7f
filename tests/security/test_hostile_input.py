"""Generated hostile input: whatever arrives, the answer is a clear 4xx (or the view), never a 5xx.

Example counts (``EXAMPLES``) add up to the number of generated cases per run, reported in
docs/security.md; each test is bounded so the module runs in well under a minute.
"""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_ratelimit_guard.signing import (
    SignatureError,
    canonical_query,
    parse_authorization,
    scheme,
)
from tests.security.conftest import HOST, KEY_ID, NOW, SECRET, SKEW, send, signed_headers

EXAMPLES = {
    "parse": 2000,
    "canonical": 1500,
    "roundtrip": 600,
    "headers": 1500,
    "requests": 1200,
    "mutations": 800,
    "timestamps": 600,
}  # 8,200 generated cases per run
FIXTURES_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
_nonces = itertools.count()


def fresh_nonce() -> str:
    # Unique per call: hypothesis re-runs examples while shrinking; that must not look like replay.
    return f"hypothesis-nonce-{next(_nonces):012d}"


latin1 = st.text(st.characters(max_codepoint=255), max_size=300)
any_text = st.text(max_size=300)
field_names = st.sampled_from(["keyId", "ts", "nonce", "sig", "KEYID", "key", "", "sig ", " ts"])
field_values = st.one_of(
    st.sampled_from([KEY_ID, str(NOW), "0123456789abcdef", "a" * 64, "", "0" * 64, "-1", "1e9"]),
    latin1,
    st.text(max_size=20),
    st.just("x" * 5000),
)
structured = st.builds(
    lambda scheme, fields, sep: scheme + " " + sep.join(f"{n}={v}" for n, v in fields),
    st.sampled_from(["RLG1-HMAC-SHA256", "rlg1-hmac-sha256", "RLG1-HMAC-SHA256 ", "Bearer", ""]),
    st.lists(st.tuples(field_names, field_values), max_size=8),
    st.sampled_from([",", ", ", ";", ",,"]),
)
hostile_headers = st.one_of(
    latin1, any_text, structured, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
)


@settings(max_examples=EXAMPLES["parse"], deadline=None)
@given(st.one_of(hostile_headers, st.none()))
def test_parse_authorization_only_ever_raises_signature_error(header: str | None) -> None:
    try:
        credentials = parse_authorization(header)
    except SignatureError as exc:
        reason = exc.reason
    else:
        reason = "parsed"
        assert header is not None
        assert header.isascii()
        assert len(header) <= 512
        assert len(credentials.signature) == 64
    assert reason in {"missing", "malformed", "parsed"}


@settings(max_examples=EXAMPLES["canonical"], deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_canonical_query_is_total_ascii_and_idempotent(query: bytes | str) -> None:
    canonical = canonical_query(query)
    assert canonical.isascii()
    assert canonical_query(canonical) == canonical


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
