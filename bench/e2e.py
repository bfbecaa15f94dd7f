"""End to end: the example project under gunicorn, driven by wrk, on loopback only.

    /work/venv311/bin/python bench/e2e.py [--duration 3] [--reps 5] [--connections 8]

Needs gunicorn (the ``bench`` extra) and wrk (Debian: ``apt-get install -y wrk``). Starts its own
redis-server on a free port and two gunicorn servers (2 sync workers each, multiprocess Prometheus
metrics in a temporary ``PROMETHEUS_MULTIPROC_DIR``) on free loopback ports: one without
RateLimitMiddleware, one with it (``example.bench_settings``). Every wrk run is bounded in time
(``--duration``) and by a hard timeout; everything started here is stopped at the end.

Prints two tables:

1. requests/s and latency for the same tiny view with no limiter, with our middleware and one
   policy, with three policies, and with django-ratelimit's decorator; rows interleaved over
   ``--reps`` repetitions, medians reported, ratios to the no-limiter row;
2. Redis frozen (SIGSTOP on our own redis-server) under load: the detection phase (the first
   FAILURE_THRESHOLD failures per worker wait one socket timeout), then the breaker open: its
   requests/s against the healthy figure, latency, and 5xx responses (counted by a wrk script).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, RedisServer, print_table, versions

from tests.support.redis_servers import free_port

EXAMPLE = ROOT / "example_project"
SOCKET_TIMEOUT_MS = 100  # example.settings: SOCKET_TIMEOUT 0.1 s
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) fivexx = 0 end
function response(status, headers, body)
  if status >= 500 then fivexx = fivexx + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("fivexx") end
  io.write(string.format("5xx: %d\\n", n))
end
"""
ROWS = [
    ("no limiter", "plain", "/bench/plain/"),
    ("floor: one raw EVALSHA per request", "plain", "/bench/floor/"),
    ("our middleware, 1 policy", "guard", "/bench/one/"),
    ("our middleware, 3 policies", "guard", "/bench/three/"),
    ("django-ratelimit decorator", "plain", "/bench/django-ratelimit/"),
    ("our middleware, path without policy", "guard", "/bench/plain/"),
]


#: CPUs for the gunicorn workers and for wrk and redis-server; None: not pinned. On a small VM
#: an unpinned run flips between two scheduling modes (~2,700 and ~4,600 req/s for the same view
#: from one run to the next); pinned, the workers have one core to themselves and req/s measures
#: their CPU cost per request.
SERVER_CPUS: set[int] | None = None
CLIENT_CPUS: set[int] | None = None
REDIS_CPUS: set[int] | None = None


def _pinned(cpus: set[int] | None):  # type: ignore[no-untyped-def]
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


class Gunicorn:
    def __init__(
        self,
        redis_url: str,
        guard: bool,
        workdir: Path,
        name: str = "",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        name = name or ("guard" if guard else "plain")
        self.prom_dir = workdir / f"prom-{name}"
        self.prom_dir.mkdir()
        self.log = workdir / f"gunicorn-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example.bench_settings",
            "BENCH_GUARD_MIDDLEWARE": "1" if guard else "0",
            "REDIS_URL": redis_url,
            "PROMETHEUS_MULTIPROC_DIR": str(self.prom_dir),
            "EXAMPLE_DB": str(workdir / "db.sqlite3"),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{EXAMPLE}",
            **(extra_env or {}),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn), "example.wsgi:application", "--workers", "2",
                "--bind", f"127.0.0.1:{self.port}", "--chdir", str(EXAMPLE),
                "--log-level", "warning", "--error-logfile", str(self.log),
            ],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_pinned(SERVER_CPUS),
        )  # fmt: skip

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                    if s.recv(64).split(b" ")[1:2] == [b"200"]:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn on port {self.port} did not answer {path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, duration: int, connections: int, script: Path) -> dict[str, float]:
    """One bounded wrk run (1 thread, keep-alive connections); its figures."""
    args = [
        "wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s",
        "--latency", "-s", str(script), url,
    ]  # fmt: skip
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=duration + 30, check=True,
        preexec_fn=_pinned(CLIENT_CPUS),
    )  # fmt: skip
    out = done.stdout
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    figures = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "max": _ms(latency.group(3)) if latency else float("nan"),
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "5xx": float(re.search(r"5xx: (\d+)", out).group(1)),  # type: ignore[union-attr]
    }
    errors = re.search(r"Socket errors: (.*)", out)
    figures["socket_errors"] = (
        0.0 if errors is None else float(sum(map(int, re.findall(r"\d+", errors.group(1)))))
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions per row")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--no-pin", action="store_true",
        help="don't pin gunicorn to CPU 0, wrk and redis-server to CPU 1 (the default on 2+ CPUs)",
    )  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="1 s runs, 1 rep (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.reps = 1, 1
    global SERVER_CPUS, CLIENT_CPUS
    if not args.no_pin and (os.cpu_count() or 1) >= 2:
        SERVER_CPUS, CLIENT_CPUS = {0}, {1}
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian: apt-get install -y wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="rlg-e2e-"))
    script = workdir / "count5xx.lua"
    script.write_text(WRK_SCRIPT)
    redis_server = RedisServer().start()
    if CLIENT_CPUS is not None and redis_server.process is not None:
        # Redis plays a separate machine: it must not take the gunicorn workers' core, where a
        # round trip would wait for the other worker's time slice.
        os.sched_setaffinity(redis_server.process.pid, REDIS_CPUS or CLIENT_CPUS)
        # ... and it answers at once, as a dedicated Redis host would, instead of waiting for
        # wrk's time slice (it needs ~10 µs a call, so real-time priority starves nothing).
        try:
            os.sched_setscheduler(redis_server.process.pid, os.SCHED_FIFO, os.sched_param(1))
        except PermissionError:
            print("note: could not give redis-server real-time priority (not root)")
    servers = {
        "plain": Gunicorn(redis_server.url, guard=False, workdir=workdir),
        "guard": Gunicorn(redis_server.url, guard=True, workdir=workdir),
    }
    try:
        for name, server in servers.items():
            server.wait_ready("/bench/one/" if name == "guard" else "/bench/plain/")
        load = os.getloadavg()
        version = redis_server.client().info()["redis_version"]
        print(
            f"{versions()}, redis-server {version}, {os.cpu_count()} CPUs, "
            f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; gunicorn 2 sync workers per "
            f"server, wrk 1 thread x {args.connections} connections, {args.duration:g} s x "
            f"{args.reps} reps, gunicorn on CPUs {SERVER_CPUS or 'any'}, wrk and redis-server on "
            f"{CLIENT_CPUS or 'any'}"
        )
        for _, server_name, path in ROWS:  # warm every worker and connection
            wrk(servers[server_name].url(path), 1, args.connections, script)

        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in ROWS}
        for _ in range(args.reps):
            for label, server_name, path in ROWS:
                runs[label].append(
                    wrk(servers[server_name].url(path), args.duration, args.connections, script)
                )

        def med(label: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[label])

        base = med("no limiter", "rps")
        targets = {"our middleware, 1 policy": ">= 0.90", "our middleware, 3 policies": ">= 0.85"}
        table = [
            (
                label, f"{med(label, 'rps'):.0f}", f"{med(label, 'rps') / base:.2f}",
                f"{med(label, 'p50'):.2f}", f"{med(label, 'p99'):.2f}",
                f"{sum(r['5xx'] for r in runs[label]):.0f}", targets.get(label, ""),
            )
            for label, _, _ in ROWS
        ]  # fmt: skip
        print_table(
            "Same view, requests/s (median of reps) and latency (ms, median of the reps' p50/p99)",
            table,
            ("row", "req/s", "x no limiter", "p50 ms", "p99 ms", "5xx", "target"),
        )

        guard = servers["guard"]
        url = guard.url("/bench/one/")
        # The healthy figure this phase is compared with, measured right before the freeze.
        before = wrk(url, args.duration, args.connections, script)
        healthy = before["rps"]
        redis_server.freeze()
        try:
            detection = wrk(url, 2, args.connections, script)
            after = wrk(url, args.duration, args.connections, script)
        finally:
            redis_server.thaw()
        rows = [
            (
                f"healthy, the {args.duration:g} s before", f"{healthy:.0f}", "1.00",
                f"{before['p50']:.2f}", f"{before['p99']:.2f}", f"{before['max']:.1f}",
                f"{before['5xx']:.0f}", f"{before['socket_errors']:.0f}",
            ),
            (
                "frozen: detection, first 2 s", f"{detection['rps']:.0f}",
                f"{detection['rps'] / healthy:.2f}", f"{detection['p50']:.2f}",
                f"{detection['p99']:.2f}", f"{detection['max']:.1f}", f"{detection['5xx']:.0f}",
                f"{detection['socket_errors']:.0f}",
            ),
            (
                f"frozen: breaker open, next {args.duration:g} s", f"{after['rps']:.0f}",
                f"{after['rps'] / healthy:.2f}", f"{after['p50']:.2f}", f"{after['p99']:.2f}",
                f"{after['max']:.1f}", f"{after['5xx']:.0f}", f"{after['socket_errors']:.0f}",
            ),
        ]  # fmt: skip
        print_table(
            f"Redis frozen (SIGSTOP) under load, /bench/one/, SOCKET_TIMEOUT {SOCKET_TIMEOUT_MS} "
            f"ms; targets: after opening max <= {SOCKET_TIMEOUT_MS * 1.5:.0f} ms, 0 5xx, "
            "req/s >= healthy",
            rows,
            ("phase", "req/s", "x healthy", "p50 ms", "p99 ms", "max ms", "5xx", "socket errors"),
        )
        transitions = [line for line in guard.log.read_text().splitlines() if "breaker" in line]
        for line in transitions[:6]:
            print("  log:", line.strip()[:160])
    finally:
        for server in servers.values():
            server.stop()
        redis_server.close()
        if not os.environ.get("E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("kept", workdir)


if __name__ == "__main__":
    main()
