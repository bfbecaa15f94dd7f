"""One behaviour under WSGI and ASGI (issue #16.3), under real servers on free loopback ports:
gunicorn sync workers, uvicorn configured as docs/security.md says (``--no-proxy-headers``), and
uvicorn with its defaults (proxy headers on for 127.0.0.1). Every verdict — signatures over
invalid UTF-8 paths, chunked signed bodies, client-IP buckets from malformed forwarded headers —
must be the same under all of them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from django_ratelimit_guard.signing import sign
from tests.support.redis_servers import RedisServer
from tests.system.live import settings as live
from tests.system.live.servers import LiveServer, migrate, raw_request, request, site_env

SERVERS = {
    "gunicorn": ("gunicorn", ()),
    "uvicorn": ("uvicorn", ("--no-proxy-headers",)),
    "uvicorn-default": ("uvicorn", ()),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    workdir = tmp_path_factory.mktemp("parity")
    redis_server = RedisServer().start()
    env = site_env(redis_server.url, workdir / "db.sqlite3")
    migrate(env)
    started: dict[str, LiveServer] = {}
    try:
        for name, (kind, args) in SERVERS.items():
            started[name] = LiveServer(kind, env, workdir / f"{name}.log", 1, args)
        for server in started.values():
            server.wait_ready()
        yield started
    finally:
        for server in started.values():
            server.stop()
        redis_server.close()


def signed_get(server: LiveServer, path: str, secret: str = live.SIGNING_SECRET) -> int:
    url = f"http://127.0.0.1:{server.port}{path}"
    headers = sign("GET", url, b"", live.SIGNING_KEY_ID, secret)
    return request(server.port, "GET", path, headers=headers).status


PATHS = [
    "/signed/%ff",
    "/signed/%C3%28",
    "/signed/%ED%A0%80",
    "/signed/caf%C3%A9",
    "/signed/%EF%BF%BD",
    "/signed/a%2Fb",
    "/signed/%25ff",
    "/signed/plain",
]


@pytest.mark.parametrize("path", PATHS)
def test_correctly_signed_paths_are_accepted_under_every_server(
    servers: dict[str, LiveServer], path: str
) -> None:
    assert {name: signed_get(s, path) for name, s in servers.items()} == dict.fromkeys(servers, 200)


@pytest.mark.parametrize("path", PATHS)
def test_wrongly_signed_paths_are_refused_under_every_server(
    servers: dict[str, LiveServer], path: str
) -> None:
    verdicts = {name: signed_get(s, path, secret="w" * 40) for name, s in servers.items()}
    assert verdicts == dict.fromkeys(servers, 401)


def test_a_chunked_signed_body_is_411_under_every_server(servers: dict[str, LiveServer]) -> None:
    verdicts = {}
    for name, server in servers.items():
        host = f"127.0.0.1:{server.port}"
        authorization = sign(
            "POST",
            f"http://{host}/signed/upload",
            b"hello",
            live.SIGNING_KEY_ID,
            live.SIGNING_SECRET,
        )["Authorization"]
        data = (
            f"POST /signed/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        ).encode("ascii")
        verdicts[name], _ = raw_request(server.port, data)
    assert verdicts == dict.fromkeys(servers, 411)


def test_a_signed_body_with_content_length_is_accepted_under_every_server(
    servers: dict[str, LiveServer],
) -> None:
    verdicts = {}
    for name, server in servers.items():
        url = f"http://127.0.0.1:{server.port}/signed/upload"
        headers = sign("POST", url, b"hello", live.SIGNING_KEY_ID, live.SIGNING_SECRET)
        answer = request(server.port, "POST", "/signed/upload", headers=headers, body=b"hello")
        verdicts[name] = (answer.status, answer.json()["body"])
    assert verdicts == dict.fromkeys(servers, (200, 5))


FORWARDED = {
    None: "127.0.0.1",  # no header: the trusted proxy itself (its health checks)
    "203.0.113.7": "203.0.113.7",
    "198.51.100.1, 203.0.113.7": "203.0.113.7",  # a spoofed leftmost entry is never read
    "203.0.113.7, 127.0.0.1": "203.0.113.7",  # a trusted hop is skipped
    "garbage": "unknown-ip",
    "203.0.113.7, garbage": "unknown-ip",
    "garbage, 203.0.113.7": "203.0.113.7",
    "garbage, 127.0.0.1": "unknown-ip",
    " , ": "unknown-ip",
    "203.0.113.7:8080": "203.0.113.7",
    "[2001:db8::1]:443": "2001:db8::/64",
    "999.1.1.1": "unknown-ip",
}


@pytest.mark.parametrize("forwarded", list(FORWARDED))
def test_client_ip_buckets_are_the_same_under_every_server(
    servers: dict[str, LiveServer], forwarded: str | None
) -> None:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    buckets = {
        name: request(s.port, "GET", "/ip/", headers=headers).json()["ip"]
        for name, s in servers.items()
    }
    assert buckets == dict.fromkeys(servers, FORWARDED[forwarded])


def test_uvicorns_own_proxy_headers_are_reported(servers: dict[str, LiveServer]) -> None:
    default = servers["uvicorn-default"]
    answer = request(default.port, "GET", "/ip/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.json()["remote_addr"] == "203.0.113.9"  # rewritten before Django saw it
    log = default.log_text()
    assert "ratelimit_guard.W140" in log  # at startup
    assert "looks rewritten" in log  # and for the request that showed it
    configured = servers["uvicorn"]
    answer = request(configured.port, "GET", "/ip/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.json()["remote_addr"] == "127.0.0.1"
    assert "W140" not in configured.log_text()


def test_a_hostile_flood_writes_a_bounded_number_of_log_lines_with_its_count(
    servers: dict[str, LiveServer],
) -> None:
    """Issue #16.4 under real servers: 200 badly signed requests and 200 malformed forwarded
    headers write one line per kind at once and one summary with the count when the 10 s interval
    ends (not 400 lines), and no django.request line."""
    time.sleep(11)  # the intervals the module's earlier tests opened end and are summarized
    offsets = {name: len(s.log_text()) for name, s in servers.items()}
    for server in servers.values():
        for _ in range(200):
            assert signed_get(server, "/signed/flood", secret="w" * 40) == 401
            answer = request(server.port, "GET", "/ip/", headers={"X-Forwarded-For": "garbage"})
            assert answer.json()["ip"] == "unknown-ip"
    time.sleep(11)  # every interval the flood opened has ended: its summary is written

    for name, server in servers.items():
        lines = server.log_text()[offsets[name] :].splitlines()
        assert not [line for line in lines if "django.request" in line], name
        for marker in ("Refused request signature", "unparseable client address"):
            kind = [line for line in lines if marker in line]
            firsts = [line for line in kind if "[and " not in line]  # each one occurrence
            counted = [int(n) for n in re.findall(r"\[and (\d+) more like this", "\n".join(kind))]
            carried = [
                int(n) for n in re.findall(r"\[(\d+) more like this before", "\n".join(kind))
            ]
            assert len(kind) <= 4, (name, marker, kind)  # not 200
            assert len(firsts) + sum(counted) + sum(carried) == 200, (name, marker, kind)
