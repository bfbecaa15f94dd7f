"""One client's budget through a Redis freeze, under a real gunicorn with several sync workers.

Used by ``bench/continuity.py`` (the figures in docs/resilience.md) and by
``tests/system/test_continuity_gunicorn.py`` (the bound, asserted). Everything here is real: a
redis-server of our own, gunicorn workers running ``tests.support.fleet.settings`` (policy
``continuity``: ``RLG_CONTINUITY_RATE`` per client address, fail mode memory,
``FALLBACK['WORKERS']`` from the environment), one client (this process, 127.0.0.1) sending
concurrent requests so that every worker serves it. The timeline, inside one window of the policy:

1. *before*: requests until ``used`` of them were admitted (every worker hears Redis answer);
2. *frozen*: ``SIGSTOP`` on redis-server for ``freeze`` seconds, requests going on at ``rate``;
3. *after*: ``SIGCONT``, requests going on until ``until`` seconds after the run began.

The result is every response (time, status, the worker's pid and the decision's source).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.fleet.harness import ROOT, fleet_env, manage, stop_server, wait_until_serving
from tests.support.redis_servers import RedisServer, free_port


@dataclass(frozen=True)
class Answer:
    t: float  # seconds since the run began, when the response arrived
    status: int
    pid: int | None  # None for a 429 (the body is not the view's)
    source: str | None


@dataclass
class Run:
    limit: int
    workers: int
    freeze: tuple[float, float] = (0.0, 0.0)  # seconds since the run began
    answers: list[Answer] = field(default_factory=list)

    def admitted(self, start: float = float("-inf"), end: float = float("inf")) -> int:
        return sum(1 for a in self.answers if a.status == 200 and start <= a.t < end)

    @property
    def total(self) -> int:
        return self.admitted()

    def served_by(self, end: float) -> set[int]:
        return {a.pid for a in self.answers if a.pid is not None and a.t < end}

    def fivexx(self) -> int:
        return sum(1 for a in self.answers if a.status >= 500)


@contextmanager
def gunicorn(
    redis: RedisServer, workdir: Path, workers: int, rate: str, fallback_workers: int
) -> Iterator[str]:
    """A gunicorn serving tests.support.fleet.wsgi with ``workers`` sync workers; yields its URL."""
    db = workdir / "continuity.sqlite3"
    env = {
        **fleet_env(db, redis.url, 0.5),
        "RLG_CONTINUITY_RATE": rate,
        "RATELIMIT_GUARD_FALLBACK_WORKERS": str(fallback_workers),
        "PYTHONWARNINGS": "",
    }
    migrated = manage(env, "migrate", "--noinput", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log = (workdir / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--timeout", "60", "tests.support.fleet.wsgi:application"],
        env=env, cwd=ROOT, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server, workdir / "gunicorn.log", 30)
        yield base
    finally:
        stop_server(server, 15)
        log.close()


def _get(url: str) -> tuple[int, int | None, str | None]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
            return response.status, body["pid"], body["source"]
    except urllib.error.HTTPError as exc:
        return exc.code, None, None


def wait_for_window(window: float, needed: float) -> None:
    """Sleep, if need be, until a window of ``window`` seconds (aligned on the epoch, as the
    algorithms align theirs) has at least ``needed`` seconds left."""
    now = time.time()
    left = window - now % window
    if left < needed:
        time.sleep(left + 0.05)


def drive(
    base: str,
    redis: RedisServer,
    run: Run,
    *,
    window: float,
    used: int,
    freeze: float,
    until: float,
    rate: float,
    concurrency: int = 8,
) -> Run:
    """The timeline of the module docstring, inside one window of ``window`` seconds."""
    wait_for_window(window, until + 5)
    window_start = time.time()
    url = f"{base}/continuity/?sleep=0.02"  # a view that takes a moment: every worker serves
    lock = threading.Lock()

    def one() -> None:
        status, pid, source = _get(url)
        with lock:
            run.answers.append(Answer(time.time() - window_start, status, pid, source))

    with ThreadPoolExecutor(concurrency) as pool:
        while run.admitted() < used:
            list(pool.map(lambda _: one(), range(concurrency)))
        frozen_at = time.time() - window_start
        redis.freeze()
        try:
            _paced(pool, one, rate, frozen_at + freeze, window_start)
        finally:
            redis.thaw()
        run.freeze = (frozen_at, time.time() - window_start)
        _paced(pool, one, rate, until, window_start)
    return run


def _paced(pool: ThreadPoolExecutor, one: object, rate: float, end: float, start: float) -> None:
    """Submit a request every 1/rate seconds until ``end`` seconds into the window."""
    futures = []
    next_at = time.time()
    while time.time() - start < end:
        futures.append(pool.submit(one))  # type: ignore[arg-type]
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.time()))
    for future in futures:
        future.result()


def worker_pids(run: Run) -> set[int]:
    return {a.pid for a in run.answers if a.pid is not None}


__all__ = ["Answer", "Run", "drive", "gunicorn", "wait_for_window", "worker_pids"]
