"""Request signing for tests: the keys, the clock and the signing settings the signing tests use,
signed requests, and hostile inputs (hypothesis strategies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.test import Client
from hypothesis import strategies as st

from django_ratelimit_guard.signing import sign

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


#: hypothesis examples per hostile-input test (tests/signing/test_scheme.py, test_middleware.py);
#: the total is the number of generated cases per run reported in docs/security.md.
EXAMPLES = {
    "parse": 2000,
    "canonical": 1500,
    "roundtrip": 600,
    "headers": 1500,
    "requests": 1200,
    "mutations": 800,
    "timestamps": 600,
}  # 8,200 generated cases per run


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


#: What every refused signature gets, whatever was wrong with it.
REFUSAL = {"error": "invalid or missing request signature"}


def asgi_headers(extra: dict[str, str]) -> dict[str, str]:
    """``signed_headers`` for the async test client (``headers=``)."""
    return {"Authorization": extra["HTTP_AUTHORIZATION"]}
