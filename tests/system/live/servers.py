"""Real gunicorn and uvicorn processes serving the live site (``settings.py``) on free loopback
ports, and a plain HTTP client that can choose its loopback source address. Used by
tests/system/ and bench/chaos.py; only processes started here are ever stopped."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]

#: The test suite turns health checks off in its own process (tests/conftest.py); servers get
#: the defaults unless a test says otherwise.
_CLEARED = ("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "RATELIMIT_GUARD_CONTROL_POLL_SECONDS")


def site_env(redis_url: str, db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.system.live.settings",
            "RLG_LIVE_REDIS": redis_url,
            "RLG_LIVE_DB": str(db),
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "",
            **extra,
        }
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``kind`` is ``"gunicorn"`` (sync workers) or ``"uvicorn"``; ``workers`` processes."""

    def __init__(
        self,
        kind: str,
        env: dict[str, str],
        log: Path,
        workers: int = 4,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.kind = kind
        self.port = free_port()
        self.log = log
        if kind == "gunicorn":
            args = [
                "-m", "gunicorn", "tests.system.live.wsgi:application",
                "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                "--log-level", "warning", "--graceful-timeout", "3",
            ]  # fmt: skip
        elif kind == "uvicorn":
            args = [
                "-m", "uvicorn", "tests.system.live.asgi:application",
                "--workers", str(workers), "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "3",
            ]  # fmt: skip
        else:
            raise ValueError(kind)
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *args, *extra_args],
            env={**env, "RLG_LIVE_WORKERS": str(workers)},
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers are stopped with it, never anyone else's
        )

    def wait_ready(self, timeout: float = 60.0) -> LiveServer:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited:\n{self.log_text()[-3000:]}")
            try:
                if request(self.port, "GET", "/health/", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not answer:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def log_text(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    started: float  # time.time() when the request was sent
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    source: str = "127.0.0.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> Answer:
    """One request on a new connection from ``source`` (any 127.0.0.0/8 address) to 127.0.0.1."""
    started, t0 = time.time(), time.monotonic()
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Answer(
            response.status,
            data,
            {k.lower(): v for k, v in response.getheaders()},
            started,
            time.monotonic() - t0,
        )
    finally:
        conn.close()


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``data`` as it is (e.g. a chunked body); the status and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False
