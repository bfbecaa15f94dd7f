"""Load on the live site from many loopback addresses, and what it shows about an outage.

``Load`` runs threads that send ``GET /api/`` (fail mode ``memory``) and ``POST /login/`` (fail
mode ``closed``), each request on a new connection from one of ``addresses`` source addresses in
127.0.0.0/8 (so each is a distinct client to the limiter), paced to ``rate`` requests per second
in all, plus one steady client on its own address (``CLIENT``) whose admitted requests are counted
across the outage. Bounded in time and in count; only 127.0.0.1 is ever the target.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, field

from tests.system.live.servers import request

#: The steady client whose budget is followed across the outage.
CLIENT = "127.0.0.2"
CLOSED_BODY = b"Service unavailable: the rate limiter"


@dataclass
class Record:
    path: str
    client: str
    status: int
    pid: int | None
    source: str | None
    started: float  # wall time the request was sent
    ended: float  # wall time the answer was read
    seconds: float
    closed: bool = False  # a 503 of a closed policy (our own body)
    django_ms: float = 0.0  # time inside Django (X-Django-Ms), without connecting and queueing


def address(n: int) -> str:
    """The n-th client address: 127.0.1.1, 127.0.1.2, ... (never 127.0.0.x, the proxy's own)."""
    return f"127.{1 + n // 62500 % 250}.{1 + n // 250 % 250}.{1 + n % 250}"


@dataclass
class Load:
    port: int
    rate: float = 150.0
    threads: int = 8
    addresses: int = 5000
    client_rate: float = 4.0
    max_seconds: float = 300.0
    max_requests: int = 200_000
    records: list[Record] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sent = 0

    def start(self) -> Load:
        self._deadline = time.monotonic() + self.max_seconds
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._client, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        return self

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _one(self, path: str, method: str, source: str) -> None:
        try:
            answer = request(self.port, method, path, source=source, timeout=10)
        except OSError as exc:
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        pid = source_name = None
        if answer.headers.get("content-type", "").startswith("application/json"):
            data = answer.json()
            pid, source_name = data.get("pid"), data.get("source")
        record = Record(
            path,
            source,
            answer.status,
            pid,
            source_name,
            answer.started,
            answer.started + answer.seconds,
            answer.seconds,
            closed=answer.status == 503 and answer.body.startswith(CLOSED_BODY),
            django_ms=float(answer.headers.get("x-django-ms", "0")),
        )
        with self._lock:
            self.records.append(record)
            self._sent += 1

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        gap = self.threads / self.rate
        next_at = time.monotonic() + rng.uniform(0, gap)
        while self._running() and self._sent < self.max_requests:
            client = address(rng.randrange(self.addresses))
            if rng.random() < 0.25:
                self._one("/login/", "POST", client)
            else:
                self._one("/api/items/", "GET", client)
            next_at += gap
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _client(self) -> None:
        gap = 1.0 / self.client_rate
        next_at = time.monotonic()
        while self._running():
            self._one("/api/client/", "GET", CLIENT)
            next_at += gap
            self._stop.wait(max(0.0, next_at - time.monotonic()))


# -- what the records show -----------------------------------------------------------------------


def pids(records: list[Record]) -> set[int]:
    return {r.pid for r in records if r.pid is not None}


def back_on_redis(
    records: list[Record], since: float, workers: set[int]
) -> dict[int, float | None]:
    """Per worker: seconds from ``since`` to the end of its first request decided by Redis that
    was sent after ``since`` (None: no such request)."""
    back: dict[int, float | None] = dict.fromkeys(workers)
    for r in sorted(records, key=lambda r: r.ended):
        if r.started >= since and r.source == "redis" and r.pid in back and back[r.pid] is None:
            back[r.pid] = r.ended - since
    return back


def last_closed_503(
    records: list[Record], since: float, until: float = float("inf")
) -> float | None:
    """Seconds from ``since`` to the end of the last closed-mode 503 sent after it, and before
    ``until`` (the next outage); None: there was none."""
    ends = [r.ended - since for r in records if r.closed and since <= r.started < until]
    return max(ends) if ends else None


def unexpected_5xx(records: list[Record]) -> list[Record]:
    """5xx answers other than a closed policy's 503."""
    return [r for r in records if r.status >= 500 and not r.closed]


def admitted_by_client(records: list[Record], window: float = 60.0) -> tuple[int, int]:
    """The steady client's admitted requests in all, and the most in any ``window`` seconds."""
    times = sorted(r.started for r in records if r.client == CLIENT and r.status == 200)
    most, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        most = max(most, i - j + 1)
    return len(times), most


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


__all__ = [
    "CLIENT",
    "Load",
    "Record",
    "address",
    "admitted_by_client",
    "back_on_redis",
    "last_closed_503",
    "median",
    "pids",
    "unexpected_5xx",
]
