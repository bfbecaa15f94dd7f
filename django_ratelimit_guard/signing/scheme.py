"""HMAC request signing, scheme ``RLG1-HMAC-SHA256``: the wire format, the canonical string and the
verification core. The client side (``sign``, ``RequestsAuth``, ``HttpxAuth``) is ``client.py``.

Nothing here touches Django's request machinery; ``middleware.py`` is the HTTP edge.
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
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote_from_bytes, unquote_to_bytes

from django.utils.encoding import repercent_broken_unicode

from django_ratelimit_guard.core.exceptions import SignatureError

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

# Failure reasons, a closed set (they label a metric). Clients are never told which one it was.
MISSING = "missing"
MALFORMED = "malformed"
SKEW = "skew"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
REPLAY = "replay"


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
    method: str,
    path: str,
    query: str | bytes,
    host: str,
    timestamp: int | str,
    nonce: str,
    key_id: str,
    body: bytes,
) -> bytes:
    """The bytes the HMAC covers (UTF-8); ``path`` is the decoded path as ``request.path`` reads.

    The host is lower-cased: host names are case-insensitive and HTTP clients differ in whether
    they normalise the case of the ``Host`` header they send.
    """
    text = "\n".join(
        (
            VERSION,
            method.upper(),
            path,
            canonical_query(query),
            host.lower(),
            str(timestamp),
            nonce,
            key_id,
            body_digest(body),
        )
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


__all__ = [
    "BAD_SIGNATURE",
    "KEY_ID_RE",
    "MALFORMED",
    "MISSING",
    "NONCE_RE",
    "REPLAY",
    "SCHEME",
    "SKEW",
    "TS_RE",
    "UNKNOWN_KEY",
    "Credentials",
    "SignatureError",
    "canonical_query",
    "check_timestamp",
    "decoded_path",
    "parse_authorization",
    "signature",
    "string_to_sign",
    "verify_signature",
]
