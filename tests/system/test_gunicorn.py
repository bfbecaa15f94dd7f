"""The fleet channel under a real gunicorn: ``--preload`` (the app is imported in the master,
before the fork), two sync workers, the post_worker_init hook docs/operations.md recommends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet.fixtures import POLL, SLACK
from tests.support.fleet.harness import (
    GUNICORN_CONF,
    ROOT,
    command_created_at,
    manage,
    stop_server,
    wait_until_serving,
)
from tests.support.redis_servers import free_port

WORKERS = 2


@pytest.fixture
def gunicorn(worker_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    # A force-open that stands before any worker exists.
    assert (
        manage(
            worker_env, "ratelimit_guard", "force-open", "ratelimit", "--reason", "pre"
        ).returncode
        == 0
    )
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--config",
            str(GUNICORN_CONF),
            "tests.support.fleet.wsgi:application",
        ],
        env={**worker_env, "PYTHONWARNINGS": ""},
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}/fleet/?sleep=0.05"
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server, tmp_path / "gunicorn.log", 20)
        yield url
    finally:
        stop_server(server, 10)
        log.close()
        assert manage(worker_env, "ratelimit_guard", "reset-breaker", "*").returncode == 0


def fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        answer: dict[str, Any] = json.loads(response.read())
    answer["t"] = time.time()
    return answer


def rounds(url: str, until: Any, timeout: float) -> list[dict[str, Any]]:
    """Batches of concurrent requests (so both workers answer) until ``until(answers)``."""
    answers: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(4) as pool:
        while not until(answers) and time.monotonic() < deadline:
            answers += pool.map(fetch, [url] * 4)
    return answers


def test_preloaded_gunicorn_workers_obey_a_standing_force_open_from_their_first_request(
    worker_env,
    gunicorn,
):
    def both_seen(answers: list[dict[str, Any]]) -> bool:
        return len({a["pid"] for a in answers}) >= WORKERS

    answers = rounds(gunicorn, both_seen, timeout=10)
    assert both_seen(answers)
    assert {a["source"] for a in answers} == {"memory"}  # not one request reached Redis
    assert all(a["poller"] for a in answers)  # each forked worker started its own poller

    assert manage(worker_env, "ratelimit_guard", "reset-breaker", "ratelimit").returncode == 0
    issued = command_created_at(Path(worker_env["RLG_FLEET_DB"]), "reset")
    back: dict[int, float] = {}

    def all_back(answers: list[dict[str, Any]]) -> bool:
        for a in answers:
            if a["source"] == "redis":
                back.setdefault(a["pid"], a["t"])
        return len(back) >= WORKERS

    rounds(gunicorn, all_back, timeout=POLL + 5)
    assert len(back) == WORKERS
    delays = sorted(t - issued for t in back.values())
    print(f"gunicorn reset propagation delays (s): {[round(d, 3) for d in delays]}")
    # Client-side time includes the 50 ms view sleep and the HTTP round trip.
    assert delays[-1] <= POLL + SLACK + 0.1, delays
