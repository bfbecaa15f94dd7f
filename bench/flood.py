"""A flood: one blocked client at full speed, alone and beside normal clients, end to end.

    python bench/flood.py [--duration 3] [--reps 3] [--connections 8] [--no-pin] [--smoke]

The example project under gunicorn (2 sync workers per server, as ``bench/e2e.py`` runs it, with
its helpers and CPU pinning): the same tiny view with no limiter, and with our middleware where
``/bench/flood/`` carries a policy of 10/h keyed on the ``X-Client`` header. The flooding client
(``X-Client: flooder``, blocked before the first timed run) sends as fast as wrk can; the normal
clients ask ``/bench/one/`` (one policy, never reached). Rows, interleaved over ``--reps``:

* no limiter, one wrk (and two wrk at once: the baseline of the mixed row);
* the blocked client alone: every answer a 429, with ``LOCAL_DENIALS`` on, then off (a third
  gunicorn with ``LOCAL_DENIALS = False``: every denial asks Redis, as before this work);
* the blocked client beside the normal clients (two wrk at once).

For each: requests/s, the share of 429s, and the Redis commands per second during the run, read
from redis-server's own ``INFO commandstats`` (every command but ``INFO`` itself). Starts its own
redis-server and gunicorns; stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import e2e
from _harness import RedisServer, print_table, versions

WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  counts = {ok = 0, limited = 0, fivexx = 0}
  if args[1] then wrk.headers["X-Client"] = args[1] end
end
function response(status, headers, body)
  if status == 429 then counts.limited = counts.limited + 1
  elseif status >= 500 then counts.fivexx = counts.fivexx + 1
  else counts.ok = counts.ok + 1 end
end
function done(summary, latency, requests)
  local ok, limited, fivexx = 0, 0, 0
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    ok, limited, fivexx = ok + c.ok, limited + c.limited, fivexx + c.fivexx
  end
  io.write(string.format("ok: %d\\nlimited: %d\\n5xx: %d\\n", ok, limited, fivexx))
end
"""


def redis_commands(client: Any) -> int:
    """Every command redis-server ran so far but INFO (this function's own, on one connection)."""
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def run_wrk(
    jobs: list[tuple[str, str]], duration: int, connections: int, script: Path
) -> list[dict[str, float]]:
    """wrk runs at once, one per (url, X-Client value or ""), each 1 thread; their figures."""
    processes = []
    for url, client in jobs:
        args = [
            "wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s",
            "-s", str(script), url, *(["--", client] if client else []),
        ]  # fmt: skip
        processes.append(
            subprocess.Popen(
                args, stdout=subprocess.PIPE, text=True, preexec_fn=e2e._pinned(e2e.CLIENT_CPUS)
            )
        )
    figures = []
    for process in processes:
        out, _ = process.communicate(timeout=duration + 30)
        figures.append(
            {
                "requests": float(_find(r"(\d+) requests in", out)),
                "seconds": float(_find(r"requests in ([\d.]+)s", out)),
                "limited": float(_find(r"limited: (\d+)", out)),
                "5xx": float(_find(r"5xx: (\d+)", out)),
            }
        )
    return figures


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return match.group(1)


def measure(
    client: Any, jobs: list[tuple[str, str]], args: argparse.Namespace, script: Path
) -> dict[str, float]:
    before, started = redis_commands(client), time.monotonic()
    runs = run_wrk(jobs, args.duration, args.connections, script)
    elapsed = time.monotonic() - started
    commands = redis_commands(client) - before
    requests = sum(r["requests"] for r in runs)
    return {
        "rps": sum(r["requests"] / r["seconds"] for r in runs),
        "limited": sum(r["limited"] for r in runs) / requests if requests else 0.0,
        "5xx": sum(r["5xx"] for r in runs),
        "commands": commands / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions per row")
    parser.add_argument("--connections", type=int, default=8, help="per wrk")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="1 s runs, 1 rep (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.reps = 1, 1
    if not args.no_pin and (os.cpu_count() or 1) >= 2:
        e2e.SERVER_CPUS, e2e.CLIENT_CPUS = {0}, {1}
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on PATH (Debian: apt-get install -y wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="rlg-flood-"))
    script = workdir / "flood.lua"
    script.write_text(WRK_SCRIPT)
    redis_server = RedisServer().start()
    if e2e.CLIENT_CPUS is not None and redis_server.process is not None:
        os.sched_setaffinity(redis_server.process.pid, e2e.CLIENT_CPUS)
    servers = {
        "plain": e2e.Gunicorn(redis_server.url, guard=False, workdir=workdir),
        "guard": e2e.Gunicorn(redis_server.url, guard=True, workdir=workdir),
        "no-local": e2e.Gunicorn(
            redis_server.url, True, workdir, "no-local", {"BENCH_LOCAL_DENIALS": "0"}
        ),
    }
    try:
        for server in servers.values():
            server.wait_ready("/bench/plain/")
        plain = servers["plain"].url("/bench/plain/")
        flood = {name: servers[name].url("/bench/flood/") for name in ("guard", "no-local")}
        normal = servers["guard"].url("/bench/one/")
        # Block the flooder on both (the same Redis: one counter), warm every worker.
        for job in ([(flood["guard"], "flooder")], [(flood["no-local"], "flooder")]):
            run_wrk(job, 1, args.connections, script)
        run_wrk([(plain, "")], 1, args.connections, script)
        run_wrk([(normal, "")], 1, args.connections, script)
        rows = {
            "no limiter, 1 wrk": [(plain, "")],
            "no limiter, 2 wrk": [(plain, ""), (plain, "")],
            "blocked client alone (local denials)": [(flood["guard"], "flooder")],
            "blocked client alone (LOCAL_DENIALS off)": [(flood["no-local"], "flooder")],
            "blocked client + normal clients": [(flood["guard"], "flooder"), (normal, "")],
        }
        runs: dict[str, list[dict[str, float]]] = {label: [] for label in rows}
        client = redis_server.client()  # one connection: its handshake is counted once, before
        redis_commands(client)
        for _ in range(args.reps):
            for label, jobs in rows.items():
                runs[label].append(measure(client, jobs, args, script))
        load = os.getloadavg()
        print(
            f"{versions()}, {os.cpu_count()} CPUs, load {load[0]:.2f}; gunicorn 2 sync workers "
            f"per server, wrk 1 thread x {args.connections} connections each, {args.duration} s "
            f"x {args.reps} reps, gunicorn on CPUs {e2e.SERVER_CPUS or 'any'}, wrk and "
            f"redis-server on {e2e.CLIENT_CPUS or 'any'}"
        )

        def med(label: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[label])

        baseline = {
            "blocked client alone (local denials)": "no limiter, 1 wrk",
            "blocked client alone (LOCAL_DENIALS off)": "no limiter, 1 wrk",
            "blocked client + normal clients": "no limiter, 2 wrk",
        }
        table = [
            (
                label,
                f"{med(label, 'rps'):.0f}",
                f"{med(label, 'rps') / med(baseline.get(label, label), 'rps'):.2f}",
                f"{100 * med(label, 'limited'):.0f}%",
                f"{med(label, 'commands'):.1f}",
                f"{sum(r['5xx'] for r in runs[label]):.0f}",
            )
            for label in rows
        ]
        print_table(
            "A flood (medians): requests/s against no limiter with as many wrk; Redis commands/s "
            "from INFO commandstats (target: >= 0.90x, commands/s near zero)",
            table,
            ("row", "req/s", "x no limiter", "429s", "Redis cmd/s", "5xx"),
        )
    finally:
        for server in servers.values():
            server.stop()
        redis_server.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
