"""HMAC request signing (``RLG1-HMAC-SHA256``): the documented import path of the client helpers
and the scheme's functions::

    from django_ratelimit_guard.signing import sign, RequestsAuth, HttpxAuth

``scheme.py`` is the wire format and verification core, ``client.py`` the client side,
``middleware.py`` the ``SignedRequestMiddleware``, ``nonces.py`` replay protection and
``checks.py`` its startup checks. Nothing inside the package imports this module.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from django_ratelimit_guard.signing.scheme import (
    SCHEME,
    Credentials,
    SignatureError,
    canonical_query,
    check_timestamp,
    decoded_path,
    parse_authorization,
    signature,
    string_to_sign,
    verify_signature,
)

if TYPE_CHECKING:
    from django_ratelimit_guard.signing.client import HttpxAuth, RequestsAuth, authorization, sign

_CLIENT = frozenset({"HttpxAuth", "RequestsAuth", "authorization", "sign"})


def __getattr__(name: str) -> Any:
    # The client side is loaded on first use: it imports httpx (when installed), which the
    # server side never needs.
    if name in _CLIENT:
        return getattr(import_module("django_ratelimit_guard.signing.client"), name)
    raise AttributeError(f"module 'django_ratelimit_guard.signing' has no attribute {name!r}")


__all__ = [
    "SCHEME",
    "Credentials",
    "HttpxAuth",
    "RequestsAuth",
    "SignatureError",
    "authorization",
    "canonical_query",
    "check_timestamp",
    "decoded_path",
    "parse_authorization",
    "sign",
    "signature",
    "string_to_sign",
    "verify_signature",
]
