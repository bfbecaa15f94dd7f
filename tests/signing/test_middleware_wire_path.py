"""What a signature covers is read from the bytes on the wire, the same under WSGI and ASGI
(issue #16.3): the path (invalid UTF-8 included), and a body sent without Content-Length is 411
under both. Servers are modelled here by how gunicorn and uvicorn fill PATH_INFO and the ASGI
scope; tests/system/test_servers_parity.py runs the real ones."""

from __future__ import annotations

from io import BytesIO
from typing import Any
from urllib.parse import quote_from_bytes, unquote, unquote_to_bytes

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.test import AsyncClient, Client
from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.signing import scheme
from django_ratelimit_guard.signing.middleware import signed_path
from tests.support.signing import signed_headers


def wsgi_request(raw_path: bytes, script_name: str = "") -> WSGIRequest:
    """As gunicorn builds the environ: PATH_INFO is the percent-decoded bytes, latin-1."""
    return WSGIRequest(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
            "SCRIPT_NAME": script_name,
            "wsgi.input": BytesIO(b""),
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
        }
    )


def asgi_request(raw_path: bytes, root_path: str = "") -> ASGIRequest:
    """As uvicorn builds the scope: ``path`` decoded with U+FFFD for invalid UTF-8, ``raw_path``
    the bytes on the wire, both with ``root_path`` in front."""
    path = root_path + unquote(raw_path.decode("ascii"))
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": root_path.encode("ascii") + raw_path,
        "root_path": root_path,
        "query_string": b"",
        "headers": [],
    }
    return ASGIRequest(scope, BytesIO(b""))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/signed/%ff", "/signed/%FF"),
        (b"/signed/%C3%28", "/signed/%C3("),
        (b"/signed/%ED%A0%80", "/signed/%ED%A0%80"),
        (b"/signed/caf%C3%A9", "/signed/caf\u00e9"),
        (b"/signed/%EF%BF%BD", "/signed/\ufffd"),  # a real U+FFFD stays one
    ],
)
def test_wsgi_and_asgi_sign_the_same_path_for_invalid_utf8(raw: bytes, expected: str) -> None:
    assert signed_path(wsgi_request(raw)) == expected
    assert signed_path(asgi_request(raw)) == expected
    assert scheme.decoded_path(raw) == expected  # what the client helpers sign


def test_a_mounted_site_signs_its_script_name_under_both() -> None:
    assert signed_path(wsgi_request(b"/signed/%ff", "/app")) == "/app/signed/%FF"
    assert signed_path(asgi_request(b"/signed/%ff", "/app")) == "/app/signed/%FF"


raw_paths = st.lists(
    st.one_of(
        st.sampled_from(["a", "/", "-", "~", ".", "%2F", "%25", "%20"]),
        st.binary(min_size=1, max_size=3).map(lambda b: quote_from_bytes(b, safe="")),
    ),
    max_size=12,
).map(lambda parts: ("/signed/" + "".join(parts)).encode("ascii"))


@given(raw=raw_paths)
def test_any_path_on_the_wire_is_signed_identically_under_wsgi_asgi_and_the_client(
    raw: bytes,
) -> None:
    from_wsgi = signed_path(wsgi_request(raw))
    assert signed_path(asgi_request(raw)) == from_wsgi
    assert scheme.decoded_path(raw) == from_wsgi


def test_chunked_body_on_a_signed_path_is_411_not_a_401(signed_redis: Any) -> None:
    headers = signed_headers("POST", "/api/items/", b"hello")
    response = Client().post(
        "/api/items/",
        data=b"hello",
        content_type="text/plain",
        HTTP_TRANSFER_ENCODING="chunked",
        **headers,
    )
    assert response.status_code == 411
    assert "Content-Length" in response.json()["error"]


async def test_chunked_body_on_a_signed_path_is_411_under_asgi_too(signed_redis: Any) -> None:
    authorization = signed_headers("POST", "/api/items/", b"hello")["HTTP_AUTHORIZATION"]
    response = await AsyncClient().post(
        "/api/items/",
        data=b"hello",
        content_type="text/plain",
        headers={"Authorization": authorization, "Transfer-Encoding": "chunked"},
    )
    assert response.status_code == 411
