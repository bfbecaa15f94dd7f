"""HMAC request signing, scheme ``RLG1-HMAC-SHA256``: the canonical string, the client side
(``sign``, ``RequestsAuth``, ``HttpxAuth``) and the verification core.

Nothing here touches Django's request machinery; ``signing_middleware.py`` is the HTTP edge.
Wire format (docs/signing.md)::

    Authorization: RLG1-HMAC-SHA256 keyId=<id>,ts=<unix seconds>,nonce=<nonce>,sig=<64 hex>

Untrusted input is parsed strictly, as ASCII, before any crypto runs; signatures are compared as
bytes with ``hmac.compare_digest`` (a ``str`` comparison raises ``TypeError`` on non-ASCII text,
which would be a 500), and an unknown key id costs exactly the HMAC work of a known one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets as _secrets
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

from django.utils.encoding import repercent_broken_unicode

SCHEME = "RLG1-HMAC-SHA256"
VERSION = "RLG1"
#: Longer Authorization values are rejected before they are looked at any closer.
MAX_AUTHORIZATION_LENGTH = 512

KEY_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# No sign, no leading zero: exactly one spelling per instant, so what is signed is unambiguous.
TS_RE = re.compile(r"0|[1-9][0-9]{0,11}")
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
SIG_RE = re.compile(r"[0-9a-f]{64}")
FIELDS = ("keyId", "ts", "nonce", "sig")
_DEFAULT_PORTS = {"http": "80", "https": "443"}

# Failure reasons, a closed set (they label a metric). Clients are never told which one it was.
MISSING = "missing"
MALFORMED = "malformed"
SKEW = "skew"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
REPLAY = "replay"


class SignatureError(Exception):
    """A request's signature was refused; ``reason`` says why (for logs and metrics only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Credentials:
    """The four fields of a well-formed ``Authorization`` value."""

    key_id: str
    timestamp: int
    nonce: str
    signature: bytes  # 64 lowercase hex digits, as ASCII bytes


def parse_authorization(value: str | None) -> Credentials:
    """Parse an ``Authorization`` value strictly; raise :class:`SignatureError` otherwise.

    Every field must appear exactly once (any order), with no whitespace and nothing else.
    ``value`` is what Django hands over: latin-1 decoded header bytes (or arbitrary text under
    ASGI), so it is checked to be ASCII before anything else looks at it.
    """
    if not value:
        raise SignatureError(MISSING)
    if len(value) > MAX_AUTHORIZATION_LENGTH or not value.isascii():
        raise SignatureError(MALFORMED)
    scheme, space, rest = value.partition(" ")
    if scheme != SCHEME or not space:
        raise SignatureError(MALFORMED)
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, field = part.partition("=")
        if not equals or name not in FIELDS or name in fields:
            raise SignatureError(MALFORMED)
        fields[name] = field
    if len(fields) != len(FIELDS):
        raise SignatureError(MALFORMED)
    if not (
        KEY_ID_RE.fullmatch(fields["keyId"])
        and TS_RE.fullmatch(fields["ts"])
        and NONCE_RE.fullmatch(fields["nonce"])
        and SIG_RE.fullmatch(fields["sig"])
    ):
        raise SignatureError(MALFORMED)
    return Credentials(
        fields["keyId"], int(fields["ts"]), fields["nonce"], fields["sig"].encode("ascii")
    )


def check_timestamp(timestamp: int, now: float, max_skew: int) -> None:
    """The window is symmetric: a clock ahead of ours is as acceptable as one behind it."""
    if abs(now - timestamp) > max_skew:
        raise SignatureError(SKEW)


def _component(raw: bytes) -> str:
    # '+' is a space, as Django's QueryDict reads it, so the signature covers what the view sees;
    # decoding to bytes (not text) keeps distinct byte strings distinct.
    return quote_from_bytes(unquote_to_bytes(raw.replace(b"+", b" ")), safe="-_.~")


def canonical_query(query: str | bytes) -> str:
    """The query string, each name and value RFC 3986-encoded (unreserved characters as they
    are), sorted by encoded name then value, joined as ``name=value`` with ``&``.

    ``str`` input is UTF-8 encoded first; pass the raw bytes when you have them.
    """
    data = query.encode("utf-8", "surrogatepass") if isinstance(query, str) else query
    pairs = []
    for segment in data.split(b"&"):
        if segment:
            name, _, value = segment.partition(b"=")
            pairs.append((_component(name), _component(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(
    method: str, path: str, query: str | bytes, host: str, timestamp: int | str, nonce: str,
    key_id: str, body: bytes,
) -> bytes:
    """The bytes the HMAC covers (UTF-8); ``path`` is the decoded path as ``request.path`` reads.

    The host is lower-cased: host names are case-insensitive and HTTP clients differ in whether
    they normalise the case of the ``Host`` header they send.
    """
    text = "\n".join(
        (VERSION, method.upper(), path, canonical_query(query), host.lower(), str(timestamp),
         nonce, key_id, body_digest(body))
    )
    return text.encode("utf-8", "surrogatepass")


def signature(secret: bytes, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` under ``secret``, as 64 lowercase hex digits."""
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


# A random per-process secret for key ids we don't know: the same HMAC work is done for them,
# and since nobody knows this secret, nothing can ever verify against it.
_DUMMY_SECRET = os.urandom(32)


def verify_signature(
    credentials: Credentials, message: bytes, keys: Mapping[str, tuple[bytes, ...]], slots: int
) -> None:
    """Raise :class:`SignatureError` unless ``credentials.signature`` is the HMAC of ``message``
    under one of the key id's active secrets (rotation).

    Exactly ``slots`` HMACs and ``slots`` comparisons run whatever the key id — known, unknown,
    with one secret or several — so response time doesn't reveal which key ids exist.
    """
    active = keys.get(credentials.key_id, ())
    candidates = list(active) + [_DUMMY_SECRET] * max(0, slots - len(active))
    matched = False
    for secret in candidates:
        expected = signature(secret, message).encode("ascii")
        # `|` not `or`: every candidate is compared, no early exit.
        matched = hmac.compare_digest(expected, credentials.signature) | matched
    if not active:
        raise SignatureError(UNKNOWN_KEY)
    if not matched:
        raise SignatureError(BAD_SIGNATURE)


def decoded_path(raw_path: str | bytes) -> str:
    """A URL's path as Django's ``request.path`` reads it: percent-decoded, UTF-8, with broken
    UTF-8 sequences re-percent-encoded (Django's own rule)."""
    raw = raw_path.encode("utf-8", "surrogatepass") if isinstance(raw_path, str) else raw_path
    data = repercent_broken_unicode(unquote_to_bytes(raw) or b"/")
    return data.decode("utf-8")


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def _body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError("Only a body given as bytes or str can be signed, not a stream or generator.")


def authorization(
    method: str, path: str, query: str | bytes, host: str, body: bytes, key_id: str,
    secret: str | bytes, *, timestamp: int | None = None, nonce: str | None = None,
) -> str:
    """The ``Authorization`` value for a request whose parts are already split out."""
    if not KEY_ID_RE.fullmatch(key_id):
        raise ValueError("key_id must be 1-64 characters of [A-Za-z0-9_.-].")
    ts = int(time.time()) if timestamp is None else timestamp
    if not TS_RE.fullmatch(str(ts)):
        raise ValueError("timestamp must be a non-negative integer of at most 12 digits.")
    nonce = _secrets.token_urlsafe(24) if nonce is None else nonce
    if not NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 16-64 characters of [A-Za-z0-9_-].")
    message = string_to_sign(method, path, query, host, ts, nonce, key_id, body)
    sig = signature(_secret_bytes(secret), message)
    return f"{SCHEME} keyId={key_id},ts={ts},nonce={nonce},sig={sig}"


def url_host(url: str) -> str:
    """The ``Host`` header an HTTP client sends for ``url``: no user info, no default port."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    port = _DEFAULT_PORTS.get(parts.scheme.lower())
    if port and host.endswith(f":{port}"):
        host = host[: -len(port) - 1]
    return host


def sign(
    method: str, url: str, body: bytes | str | None, key_id: str, secret: str | bytes, *,
    timestamp: int | None = None, nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign a request: ``{"Authorization": "RLG1-HMAC-SHA256 ..."}``.

    ``url`` is absolute (``https://api.example.com/v1/items?page=2``); the body must be the exact
    bytes sent (a ``str`` is UTF-8 encoded). ``timestamp`` (default: now) and ``nonce`` (default:
    32 random URL-safe characters) are for tests and test vectors.
    """
    parts = urlsplit(url)
    return {
        "Authorization": authorization(
            method, decoded_path(parts.path), parts.query, url_host(url), _body_bytes(body),
            key_id, secret, timestamp=timestamp, nonce=nonce,
        )
    }


class RequestsAuth:
    """Sign ``requests`` requests: ``requests.post(url, json=data, auth=RequestsAuth(id, secret))``.

    requests accepts any callable taking and returning the prepared request, so this class needs
    no import of requests itself.
    """

    def __init__(self, key_id: str, secret: str | bytes) -> None:
        if not KEY_ID_RE.fullmatch(key_id):
            raise ValueError("key_id must be 1-64 characters of [A-Za-z0-9_.-].")
        self.key_id = key_id
        self._secret = _secret_bytes(secret)

    def __call__(self, request: Any) -> Any:
        request.headers.update(
            sign(request.method, request.url, _body_bytes(request.body), self.key_id, self._secret)
        )
        return request


try:
    import httpx

    _HttpxAuthBase: type = httpx.Auth
except ImportError:  # pragma: no cover - httpx is an optional dependency
    _HttpxAuthBase = object


class HttpxAuth(_HttpxAuthBase):  # type: ignore[misc]
    """Sign ``httpx`` requests: ``httpx.Client(auth=HttpxAuth(key_id, secret))``."""

    requires_request_body = True

    def __init__(self, key_id: str, secret: str | bytes) -> None:
        if _HttpxAuthBase is object:  # pragma: no cover
            raise ImportError("HttpxAuth needs httpx: pip install django-ratelimit-guard[signing]")
        if not KEY_ID_RE.fullmatch(key_id):
            raise ValueError("key_id must be 1-64 characters of [A-Za-z0-9_.-].")
        self.key_id = key_id
        self._secret = _secret_bytes(secret)

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        raw_path, _, query = bytes(request.url.raw_path).partition(b"?")
        request.headers["Authorization"] = authorization(
            request.method, decoded_path(raw_path), query, request.headers["Host"],
            bytes(request.content), self.key_id, self._secret,
        )
        yield request


__all__ = [
    "SCHEME", "Credentials", "HttpxAuth", "RequestsAuth", "SignatureError", "authorization",
    "canonical_query", "check_timestamp", "decoded_path", "parse_authorization", "sign",
    "signature", "string_to_sign", "verify_signature",
]
