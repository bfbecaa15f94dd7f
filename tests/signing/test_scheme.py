"""The scheme itself: test vectors, the canonical string, strict parsing of the header (hostile
input included), the verifier."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_ratelimit_guard.signing import (
    Credentials,
    SignatureError,
    canonical_query,
    client,
    parse_authorization,
    scheme,
    sign,
    verify_signature,
)
from tests.support.signing import EXAMPLES, hostile_headers

VECTOR_SECRET = "rlg1-test-vector-secret-0123456789abcdef"
VECTOR_TS = 1700000000
VECTOR_NONCE = "0123456789abcdef"
# Published in docs/scheme.md; the signatures were cross-checked with `openssl dgst -hmac`.
VECTORS = [
    (
        "GET",
        "https://api.example.com/v1/items?page=2&sort=name",
        b"",
        "RLG1\nGET\n/v1/items\npage=2&sort=name\napi.example.com\n1700000000\n0123456789abcdef\n"
        "client-1\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "c1fe92b6be414cae97ce861d33d768d5403d139f95a380dd4a9ec275af04cbea",
    ),
    (
        "POST",
        "https://api.example.com/v1/items",
        b'{"name":"widget","qty":3}',
        "RLG1\nPOST\n/v1/items\n\napi.example.com\n1700000000\n0123456789abcdef\n"
        "client-1\n618f4ae1675857bbc1afcc299ef926f5a6d97908d66847e874ed0a07368dc2c8",
        "a6acddbd4e29025db1dd44373eda11adec21447d2acf1249a5a954ec302650d9",
    ),
    (
        "PUT",
        "https://API.example.com:8443/v1/caf%C3%A9/items?b=2&a=%7E&a=1&q=caf%C3%A9+au+lait&flag",
        b"hello\n",
        "RLG1\nPUT\n/v1/caf\u00e9/items\na=1&a=~&b=2&flag=&q=caf%C3%A9%20au%20lait\napi.example.com:8443\n"
        "1700000000\n0123456789abcdef\nclient-1\n"
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
        "39931832bbcf2654b42e91654aba282f051bc1d27d40dbda6d31c5f8801d497c",
    ),
]


def test_github_webhook_hmac_sha256_vector() -> None:
    # docs.github.com, "Validating webhook deliveries": the same HMAC-SHA256 primitive.
    assert scheme.signature(b"It's a Secret to Everybody", b"Hello, World!") == (
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


@pytest.mark.parametrize(("method", "url", "body", "expected_sts", "expected_sig"), VECTORS)
def test_our_vectors_give_the_published_string_to_sign_and_signature(
    method: str, url: str, body: bytes, expected_sts: str, expected_sig: str
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sts = scheme.string_to_sign(
        method,
        scheme.decoded_path(parts.path),
        parts.query,
        client.url_host(url),
        VECTOR_TS,
        VECTOR_NONCE,
        "client-1",
        body,
    )
    assert sts == expected_sts.encode()
    headers = sign(
        method, url, body, "client-1", VECTOR_SECRET, timestamp=VECTOR_TS, nonce=VECTOR_NONCE
    )
    assert headers == {
        "Authorization": f"RLG1-HMAC-SHA256 keyId=client-1,ts=1700000000,nonce={VECTOR_NONCE},"
        f"sig={expected_sig}"
    }


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_the_documented_shell_recipe_matches_the_python_client() -> None:
    # The curl example of docs/scheme.md, minus curl: proves a non-Python client can sign.
    script = r"""
    SECRET='rlg1-test-vector-secret-0123456789abcdef'
    BODY='{"name":"widget","qty":3}'
    BODY_HASH=$(printf '%s' "$BODY" | openssl dgst -sha256 -r | cut -d' ' -f1)
    STS=$(printf 'RLG1\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s' POST /v1/items '' api.example.com \
          1700000000 0123456789abcdef client-1 "$BODY_HASH")
    printf '%s' "$STS" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1
    """
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == VECTORS[1][4]


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1&a=10", "a=1&a=10&a=2"),
        ("flag", "flag="),
        ("flag=", "flag="),
        ("&&a=1&&", "a=1"),
        ("q=a+b%20c", "q=a%20b%20c"),
        ("plus=%2B", "plus=%2B"),
        ("t=%7e%7E~", "t=~~~"),
        ("x=caf%c3%a9", "x=caf%C3%A9"),
        ("x=café", "x=caf%C3%A9"),
        ("e=a=b", "e=a%3Db"),
        ("k=%FF", "k=%FF"),  # not UTF-8: bytes are kept, not replaced
        ("=v", "=v"),
        ("a-b._~=1", "a-b._~=1"),
        ("semi=1;b=2", "semi=1%3Bb%3D2"),
    ],
)
def test_canonical_query(query: str, canonical: str) -> None:
    assert canonical_query(query) == canonical


def test_canonical_query_sorts_by_encoded_name_then_encoded_value() -> None:
    # '%' (0x25) sorts before letters: the order is that of the encoded text.
    assert canonical_query("b=1&%C3%A9=1&B=2&a=%FF&a=Z") == "%C3%A9=1&B=2&a=%FF&a=Z&b=1"


def test_distinct_raw_bytes_never_share_a_canonical_query() -> None:
    assert canonical_query(b"k=%FF") != canonical_query(b"k=%FE")
    assert canonical_query("k=%2B") != canonical_query("k=+")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer abc", "malformed"),
        ("RLG1-HMAC-SHA256", "malformed"),
        ("rlg1-hmac-sha256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256  keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64 + ",", "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a, ts=1,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef", "malformed"),
        (
            "RLG1-HMAC-SHA256 keyId=a,keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64,
            "malformed",
        ),
        (
            "RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64 + ",x=1",
            "malformed",
        ),
        ("RLG1-HMAC-SHA256 keyId=a,ts=-1,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=01,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1.5,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=\uff11,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=short,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=" + "n" * 65 + ",sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcde!,sig=" + "0" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 63, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "A" * 64, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 65, "malformed"),
        ("RLG1-HMAC-SHA256 keyId=a\u00e9,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        (
            "RLG1-HMAC-SHA256 keyId=\xff\xfe,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64,
            "malformed",
        ),
        ("RLG1-HMAC-SHA256 keyId=,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64, "malformed"),
        (
            "RLG1-HMAC-SHA256 keyId=" + "k" * 65 + ",ts=1,nonce=0123456789abcdef,sig=" + "0" * 64,
            "malformed",
        ),
        (
            "RLG1-HMAC-SHA256 keyId=a,ts=1,nonce=0123456789abcdef,sig=" + "0" * 64 + " " * 500,
            "malformed",
        ),
    ],
)
def test_parse_authorization_refuses_anything_but_the_exact_format(
    header: str | None, reason: str
) -> None:
    with pytest.raises(SignatureError) as info:
        parse_authorization(header)
    assert info.value.reason == reason


def test_parse_authorization_accepts_fields_in_any_order() -> None:
    sig = "ab" * 32
    parsed = parse_authorization(
        f"RLG1-HMAC-SHA256 sig={sig},nonce=0123456789abcdef,ts=0,keyId=k.1"
    )
    assert parsed == Credentials("k.1", 0, "0123456789abcdef", sig.encode())


def _credentials_for(message: bytes, secret: bytes, key_id: str = "k") -> Credentials:
    sig = hmac.new(secret, message, hashlib.sha256).hexdigest().encode()
    return Credentials(key_id, 1, "0123456789abcdef", sig)


def test_verify_accepts_any_active_secret_of_the_key_id() -> None:
    keys = {"k": (b"n" * 32, b"o" * 32)}
    for secret in keys["k"]:
        verify_signature(_credentials_for(b"msg", secret), b"msg", keys, slots=2)


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        (_credentials_for(b"msg", b"x" * 32, key_id="nobody"), "unknown_key"),
        (_credentials_for(b"msg", b"x" * 32), "bad_signature"),
        (_credentials_for(b"other message", b"n" * 32), "bad_signature"),
        (_credentials_for(b"msg", b"n" * 32, key_id="K"), "unknown_key"),  # ids are case-sensitive
    ],
)
def test_verify_refuses(credentials: Credentials, reason: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify_signature(credentials, b"msg", {"k": (b"n" * 32,)}, slots=1)
    assert info.value.reason == reason


def test_verify_does_the_same_number_of_hmacs_for_known_and_unknown_key_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []
    real = scheme.signature

    def counting(secret: bytes, message: bytes) -> str:
        calls.append(secret)
        return real(secret, message)

    monkeypatch.setattr(scheme, "signature", counting)
    keys = {"one": (b"a" * 32,), "two": (b"b" * 32, b"c" * 32)}
    counts = []
    for key_id in ("one", "two", "unknown"):
        calls.clear()
        with pytest.raises(SignatureError):
            verify_signature(
                Credentials(key_id, 1, "0123456789abcdef", b"0" * 64), b"m", keys, slots=2
            )
        counts.append(len(calls))
    assert counts == [2, 2, 2]


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
