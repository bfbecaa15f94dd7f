"""Real worker processes sharing one SQLite database file and one real redis-server."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("worker.py")
GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")


def fleet_env(db: Path | str, redis_url: str, poll: float) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if k != "RATELIMIT_GUARD_CONTROL_POLL_SECONDS"}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "tests.support.fleet.settings",
        "RLG_FLEET_DB": str(db),
        "RLG_FLEET_REDIS": redis_url,
        "RLG_FLEET_POLL": str(poll),
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "error",
    }


def wait_until_serving(
    base: str, server: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Return once ``base`` answers HTTP (a 404 for ``/nothing`` will do); fail with the server's
    log if it exits or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{base}/nothing", timeout=1)
        except urllib.error.HTTPError:
            return  # a 404: the workers are up
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.1)


def stop_server(server: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (a graceful stop, as a deployment does), then SIGKILL after ``timeout`` seconds."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m django <args>``: another process, as an operator's shell would be."""
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Worker:
    """One worker process; ``request()`` runs one request through its middleware stack."""

    def __init__(self, env: dict[str, str], mode: str, log: Path, path: str = "/fleet/") -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), mode, path],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            bufsize=1,
        )

    def request(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("req\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"worker {self.process.pid} did not answer; log:\n{self.stderr()}")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.process.pid} exited; log:\n{self.stderr()}")
        return json.loads(line)  # type: ignore[no-any-return]

    def stderr(self) -> str:
        self._log_file.flush()
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_file.close()


def wait_for_source(
    workers: list[Worker], source: str, timeout: float, gap: float = 0.02
) -> dict[int, float]:
    """Send requests round-robin until every worker decided one from ``source``; returns each
    worker's pid -> wall time of its first such decision (bounded by ``timeout``)."""
    first: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(first) < len(workers) and time.monotonic() < deadline:
        for worker in workers:
            if worker.process.pid in first:
                continue
            answer = worker.request()
            if answer["source"] == source:
                first[worker.process.pid] = answer["t"]
        time.sleep(gap)
    return first


def command_created_at(db: Path, action: str) -> float:
    """Wall time at which the newest ``action`` fleet command was recorded."""
    with sqlite3.connect(db) as conn:
        (text,) = conn.execute(
            "SELECT created_at FROM django_ratelimit_guard_breakercommand WHERE action = ? "
            "ORDER BY id DESC LIMIT 1",
            (action,),
        ).fetchone()
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def breaker_events(db: Path) -> list[tuple[int, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT pid, to_state, reason FROM django_ratelimit_guard_breakerevent ORDER BY id"
        ).fetchall()
