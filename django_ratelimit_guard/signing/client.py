"""The client side of request signing: ``sign`` for any HTTP client, ``RequestsAuth`` for requests,
``HttpxAuth`` for httpx. Import them from ``django_ratelimit_guard.signing``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator
from typing import Any
from urllib.parse import urlsplit

from django_ratelimit_guard.signing.scheme import (
    KEY_ID_RE,
    NONCE_RE,
    SCHEME,
    TS_RE,
    decoded_path,
    signature,
    string_to_sign,
)

try:  # httpx is an optional dependency (the "signing" extra)
    import httpx

    _HttpxAuthBase: type = httpx.Auth
except ImportError:  # pragma: no cover - exercised only without httpx
    _HttpxAuthBase = object

_DEFAULT_PORTS = {"http": "80", "https": "443"}


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
    method: str,
    path: str,
    query: str | bytes,
    host: str,
    body: bytes,
    key_id: str,
    secret: str | bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The ``Authorization`` value for a request whose parts are already split out."""
    if not KEY_ID_RE.fullmatch(key_id):
        raise ValueError("key_id must be 1-64 characters of [A-Za-z0-9_.-].")
    ts = int(time.time()) if timestamp is None else timestamp
    if not TS_RE.fullmatch(str(ts)):
        raise ValueError("timestamp must be a non-negative integer of at most 12 digits.")
    nonce = secrets.token_urlsafe(24) if nonce is None else nonce
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
    method: str,
    url: str,
    body: bytes | str | None,
    key_id: str,
    secret: str | bytes,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign a request: ``{"Authorization": "RLG1-HMAC-SHA256 ..."}``.

    ``url`` is absolute (``https://api.example.com/v1/items?page=2``); the body must be the exact
    bytes sent (a ``str`` is UTF-8 encoded). ``timestamp`` (default: now) and ``nonce`` (default:
    32 random URL-safe characters) are for tests and test vectors.
    """
    parts = urlsplit(url)
    return {
        "Authorization": authorization(
            method,
            decoded_path(parts.path),
            parts.query,
            url_host(url),
            _body_bytes(body),
            key_id,
            secret,
            timestamp=timestamp,
            nonce=nonce,
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
            request.method,
            decoded_path(raw_path),
            query,
            request.headers["Host"],
            bytes(request.content),
            self.key_id,
            self._secret,
        )
        yield request


__all__ = ["HttpxAuth", "RequestsAuth", "authorization", "sign", "url_host"]
