"""The client side: ``sign``'s arguments and defaults, the Host it signs, and the helpers against
the real middleware (httpx over WSGI and ASGI, requests prepared)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client

from django_ratelimit_guard.signing import (
    HttpxAuth,
    RequestsAuth,
    client,
    parse_authorization,
    sign,
)
from tests.support.signing import KEY_ID, SECRET, send


@pytest.fixture
def real_clock(monkeypatch: pytest.MonkeyPatch, signed_redis: Any) -> Iterator[None]:
    """These clients stamp the real time: undo the injected clock. And, as Django's test client
    does, keep the bare handlers from touching the (test-blocked) database between requests."""
    import time

    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from django_ratelimit_guard.signing.middleware import SignedRequestMiddleware

    monkeypatch.setattr(SignedRequestMiddleware, "clock", staticmethod(time.time))
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_httpx_auth_over_wsgi(real_clock: None) -> None:
    transport = httpx.WSGITransport(app=WSGIHandler())
    with httpx.Client(
        transport=transport, base_url="http://testserver", auth=HttpxAuth(KEY_ID, SECRET)
    ) as client:
        # ASCII path: httpx's WSGITransport puts non-ASCII paths in PATH_INFO without the latin-1
        # round trip PEP 3333 asks for (real WSGI servers do it right; the ASGI test covers it).
        got = client.get("/api/items", params={"q": "a b", "z": "1", "a": ["2", "1"]})
        posted = client.post("/api/items/", json={"name": "widget", "qty": 3})
        again = client.post(
            "/api/items/", json={"name": "widget", "qty": 3}
        )  # a new nonce each time
    assert got.status_code == 200
    assert got.json()["api_key_id"] == KEY_ID
    assert got.json()["query"] == [["a", ["2", "1"]], ["q", ["a b"]], ["z", ["1"]]]
    assert posted.status_code == again.status_code == 200


def test_httpx_auth_with_the_wrong_secret_is_refused(real_clock: None) -> None:
    transport = httpx.WSGITransport(app=WSGIHandler())
    with httpx.Client(
        transport=transport, base_url="http://testserver", auth=HttpxAuth(KEY_ID, "w" * 40)
    ) as client:
        assert client.get("/api/items/").status_code == 401


async def test_httpx_auth_over_asgi(real_clock: None) -> None:
    transport = httpx.ASGITransport(app=ASGIHandler())
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=HttpxAuth(KEY_ID, SECRET)
    ) as client:
        response = await client.get("/api/async/", params={"q": "caf\u00e9"})
        unicode_path = await client.post("/api/caf\u00e9/items", content=b"\x00\xff")
    assert response.status_code == 200
    assert response.json() == {"api_key_id": KEY_ID}
    assert unicode_path.status_code == 200
    assert unicode_path.json()["api_key_id"] == KEY_ID


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "http://testserver/api/caf\u00e9?q=\u00e9&b=2&a=1", {}),
        ("POST", "http://testserver/api/items/", {"json": {"name": "widget"}}),
        ("PUT", "http://testserver/api/items/", {"data": {"a": "1 2", "b": "&"}}),
        ("DELETE", "http://testserver/api/items/7", {"data": b"\x00\xff raw"}),
    ],
)
def test_requests_auth_signs_the_prepared_request(
    real_clock: None, method: str, url: str, kwargs: Any
) -> None:
    prepared = requests.Request(method, url, auth=RequestsAuth(KEY_ID, SECRET), **kwargs).prepare()
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    response = send(
        Client(),
        method,
        prepared.path_url,
        body,
        HTTP_AUTHORIZATION=prepared.headers["Authorization"],
    )
    assert urlsplit(prepared.url).hostname == "testserver"
    assert response.status_code == 200, response.content
    assert response.json()["api_key_id"] == KEY_ID


def test_requests_auth_refuses_a_streamed_body() -> None:
    request = requests.Request("POST", "http://testserver/api/", data=iter([b"a", b"b"]))
    with pytest.raises(TypeError, match="stream"):
        request.prepare().prepare_auth(RequestsAuth(KEY_ID, SECRET))


def test_sign_rejects_bad_client_arguments() -> None:
    with pytest.raises(ValueError, match="key_id"):
        sign("GET", "https://x/", b"", "bad id", "s" * 32)
    with pytest.raises(ValueError, match="nonce"):
        sign("GET", "https://x/", b"", "k", "s" * 32, nonce="short")
    with pytest.raises(ValueError, match="timestamp"):
        sign("GET", "https://x/", b"", "k", "s" * 32, timestamp=-5)
    with pytest.raises(TypeError, match="stream"):
        sign("GET", "https://x/", iter([b"a"]), "k", "s" * 32)  # type: ignore[arg-type]


def test_sign_defaults_to_now_and_a_fresh_random_nonce() -> None:
    first = parse_authorization(sign("GET", "https://x/", None, "k", "s" * 32)["Authorization"])
    second = parse_authorization(sign("GET", "https://x/", None, "k", "s" * 32)["Authorization"])
    assert first.nonce != second.nonce
    import time

    assert abs(first.timestamp - time.time()) < 5


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.example.com/x", "api.example.com"),
        ("https://api.example.com:443/x", "api.example.com"),
        ("http://api.example.com:80/x", "api.example.com"),
        ("https://api.example.com:80/x", "api.example.com:80"),
        ("https://user:pw@api.example.com:8443/x", "api.example.com:8443"),
        ("http://[::1]:8000/x", "[::1]:8000"),
    ],
)
def test_url_host_is_the_host_header_a_client_sends(url: str, host: str) -> None:
    assert client.url_host(url) == host
