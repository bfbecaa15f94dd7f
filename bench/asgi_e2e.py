"""End to end under ASGI: uvicorn against gunicorn sync, with no limiter and with ours, on loopback.

    /work/venvs/<name>/bin/python bench/asgi_e2e.py [--duration 3] [--reps 3] [--connections 8]
        [--profile]

Needs wrk (Debian: ``apt-get install -y wrk``), gunicorn and uvicorn (the ``bench`` extra). Starts
its own redis-server and four servers of the example project (``example.bench_settings``), each
with 2 workers on a free loopback port: gunicorn sync and uvicorn, each without our middleware
(``BENCH_GUARD_MIDDLEWARE=0``) and with it (one policy on ``/bench/one/``). Rows are interleaved
over ``--reps`` repetitions, medians reported; each server's limiter rows are compared with its
own no-limiter row, so "how much of ASGI's cost is ours" is the limiter row's ratio under
uvicorn against the same ratio under gunicorn. The view is measured as a plain function (which
Django runs in a worker thread under ASGI) and as a coroutine (no thread hop).

``--profile`` then runs one more uvicorn (one worker, our middleware, the async view) under
pyinstrument while wrk drives it, and prints the share of the sampled time spent under
``django_ratelimit_guard`` frames (their Redis awaits included), against uvicorn, asgiref and
Django.

Every wrk run is bounded in time and by a hard timeout; only 127.0.0.1 is targeted; everything
started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, RedisServer, print_table, versions
from e2e import WRK_SCRIPT, wrk

from tests.support.redis_servers import free_port

EXAMPLE = ROOT / "example_project"
IDLE = "idle: waiting for I/O"
ROWS = [
    ("gunicorn sync, no limiter", "gunicorn-plain", "/bench/plain/"),
    ("gunicorn sync, our middleware", "gunicorn-guard", "/bench/one/"),
    ("uvicorn, no limiter, sync view", "uvicorn-plain", "/bench/plain/"),
    ("uvicorn, our middleware, sync view", "uvicorn-guard", "/bench/one/"),
    ("uvicorn, no limiter, async view", "uvicorn-plain", "/bench/plain/async/"),
    ("uvicorn, our middleware, async view", "uvicorn-guard", "/bench/one/async/"),
]
BASELINES = {
    "gunicorn sync, our middleware": "gunicorn sync, no limiter",
    "uvicorn, our middleware, sync view": "uvicorn, no limiter, sync view",
    "uvicorn, our middleware, async view": "uvicorn, no limiter, async view",
}


def env_for(redis_url: str, guard: bool, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example.bench_settings",
        "BENCH_GUARD_MIDDLEWARE": "1" if guard else "0",
        "REDIS_URL": redis_url,
        "EXAMPLE_DB": str(workdir / "db.sqlite3"),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{EXAMPLE}",
    }


class Server:
    def __init__(
        self, kind: str, guard: bool, redis_url: str, workdir: Path, prefix: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.log = workdir / f"{kind}-{'guard' if guard else 'plain'}.log"
        if kind == "gunicorn":
            args = [
                "-m", "gunicorn", "example.wsgi:application", "--workers", "2",
                "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
            ]  # fmt: skip
        else:
            workers = "1" if prefix else "2"
            args = [
                "-m", "uvicorn", "example.asgi:application", "--workers", workers,
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                "--no-access-log",
            ]  # fmt: skip
        if prefix:
            args = [*prefix, *args[1:]]  # pyinstrument ... -m uvicorn ...
            args.insert(len(prefix), "-m")
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *args],
            env=env_for(redis_url, guard, workdir),
            cwd=EXAMPLE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text()[-2000:])
            try:
                done = subprocess.run(
                    ["wrk", "-t1", "-c1", "-d1s", self.url("/bench/plain/")],
                    capture_output=True, text=True, timeout=10, check=False,
                )  # fmt: skip
                if "Non-2xx" not in done.stdout and "requests in" in done.stdout:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server on {self.port} did not answer:\n{self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()


def ours_share(profile: dict) -> tuple[float, dict[str, float]]:
    """Seconds under our package's frames (not descending into them), and per top-level library."""
    by_library: dict[str, float] = {}

    def library(path: str, function: str) -> str:
        if path.endswith("selectors.py") or function == "epoll.poll":
            return IDLE
        if function == "<module>":
            return "startup: imports"
        if function == "lock.acquire":
            # Thread.start() waiting for the new thread: asgiref's executors, started per request
            # by Django's ASGI handler (ThreadSensitiveContext) and by run_in_executor.
            return "waiting on a lock (mostly Thread.start: asgiref's per-request threads)"
        for name in ("uvicorn", "asgiref", "django", "redis", "asyncio", "httptools", "h11"):
            if f"/{name}/" in path:
                return name
        if "site-packages" not in path and "/python3" in path:
            return "standard library (threads, futures, ...)"
        return "other"

    def walk(frame: dict) -> float:
        path = frame.get("file_path") or ""
        if "/django_ratelimit_guard/" in path:
            return float(frame["time"])
        self_time = float(frame["time"]) - sum(float(c["time"]) for c in frame["children"])
        lib = library(path, str(frame.get("function") or ""))
        by_library[lib] = by_library.get(lib, 0.0) + max(0.0, self_time)
        return sum(walk(child) for child in frame["children"])

    root = profile["root_frame"]
    return walk(root), by_library


def profile(redis_url: str, workdir: Path, duration: int, connections: int, script: Path) -> None:
    out = workdir / "profile.json"
    server = Server(
        "uvicorn",
        True,
        redis_url,
        workdir,
        prefix=("-m", "pyinstrument", "-r", "json", "-o", str(out)),
    )
    try:
        server.wait_ready()
        figures = wrk(server.url("/bench/one/async/"), duration, connections, script)
    finally:
        server.stop(signal.SIGINT)
    data = json.loads(out.read_text())
    total = float(data["root_frame"]["time"])
    ours, by_library = ours_share(data)
    idle = by_library.pop(IDLE, 0.0)
    startup = by_library.pop("startup: imports", 0.0)
    busy = total - idle - startup
    rows = [
        (
            "django_ratelimit_guard (and the Redis awaits it makes)",
            f"{ours:.2f}",
            f"{ours / busy:.0%}",
        )
    ]
    for lib, seconds in sorted(by_library.items(), key=lambda kv: -kv[1]):
        rows.append((f"{lib} (self time)", f"{seconds:.2f}", f"{seconds / busy:.0%}"))
    rows.append(("idle: waiting for I/O (not in the shares)", f"{idle:.2f}", ""))
    rows.append(("startup: imports (not in the shares)", f"{startup:.2f}", ""))
    print_table(
        f"uvicorn, 1 worker, our middleware, async view, under pyinstrument "
        f"({figures['rps']:.0f} req/s while profiled): where the event loop's thread spent "
        f"{busy:.1f} s of busy time",
        rows,
        ("code", "seconds", "share of busy time"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-only", action="store_true", help="skip the throughput table")
    parser.add_argument("--smoke", action="store_true", help="1 s runs, 1 rep (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.reps = 1, 1
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian: apt-get install -y wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="rlg-asgi-e2e-"))
    script = workdir / "count5xx.lua"
    script.write_text(WRK_SCRIPT)
    redis_server = RedisServer().start()
    servers = {
        f"{kind}-{'guard' if guard else 'plain'}": Server(kind, guard, redis_server.url, workdir)
        for kind in ("gunicorn", "uvicorn")
        for guard in (False, True)
        if not args.profile_only
    }
    try:
        for server in servers.values():
            server.wait_ready()
        load = os.getloadavg()
        print(
            f"{versions()}, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f}; 2 workers per server, wrk 1 thread x {args.connections} "
            f"connections, {args.duration} s x {args.reps} reps (shared machine: noisy)"
        )
        for _, name, path in ROWS if servers else ():
            wrk(servers[name].url(path), 1, args.connections, script)
        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in ROWS}
        for _ in range(0 if args.profile_only else args.reps):
            for label, name, path in ROWS:
                runs[label].append(
                    wrk(servers[name].url(path), args.duration, args.connections, script)
                )

        def med(label: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[label])

        table = []
        for label, _, _ in ROWS if runs["gunicorn sync, no limiter"] else ():
            sync_base = med("gunicorn sync, no limiter", "rps")
            rps = med(label, "rps")
            base = BASELINES.get(label)
            table.append(
                (
                    label,
                    f"{rps:.0f}",
                    f"{rps / med(base, 'rps'):.2f}" if base else "1.00",
                    f"{rps / sync_base:.2f}",
                    f"{med(label, 'p50'):.2f}",
                    f"{med(label, 'p99'):.2f}",
                    f"{sum(r['5xx'] for r in runs[label]):.0f}",
                )
            )
        if table:
            print_table(
                "Same view, requests/s (median of reps), against the same server without a limiter "
                "and against gunicorn sync without one",
                table,
                (
                    "row",
                    "req/s",
                    "x its no limiter",
                    "x gunicorn no limiter",
                    "p50 ms",
                    "p99 ms",
                    "5xx",
                ),
            )
    finally:
        for server in servers.values():
            server.stop()
    try:
        if args.profile or args.profile_only:
            profile(redis_server.url, workdir, max(8, args.duration), args.connections, script)
    finally:
        redis_server.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
