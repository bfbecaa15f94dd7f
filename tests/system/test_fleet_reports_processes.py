"""The fleet-wide view across real processes (issue #13, item 12): three worker processes, two of
them cut off from Redis; ``manage.py ratelimit_guard status --json`` run from a fourth process
shows every one of them, with its breaker state, the failures that opened it, and its fallback
fill."""

from __future__ import annotations

import json
import time

from tests.support.fleet.fixtures import POLL, SLACK
from tests.support.fleet.harness import manage
from tests.support.redis_servers import free_port


def statuses(environ: dict[str, str]) -> dict:
    result = manage(environ, "ratelimit_guard", "status", "--json")
    return json.loads(result.stdout)


def test_status_shows_every_live_worker_and_which_have_their_breaker_open(
    worker_env, fleet_db, spawn
):
    cut_off = {
        **worker_env,
        "RLG_FLEET_REDIS": f"redis://127.0.0.1:{free_port()}/0",
    }  # nobody listens
    broken = [spawn(cut_off), spawn(cut_off)]
    healthy = spawn(worker_env)
    for _ in range(6):  # FAILURE_THRESHOLD is 5: the sixth is decided in memory
        answers = [w.request() for w in broken]
    assert {a["source"] for a in answers} == {"memory"}
    assert healthy.request()["source"] == "redis"

    # A breaker transition wakes the worker's poller, which reports it at once; each status
    # command is a new Django process (a second or so on a shared machine).
    deadline = time.monotonic() + POLL + SLACK + 15
    wanted = {w.process.pid for w in [*broken, healthy]}
    while True:
        processes = {p["pid"]: p for p in statuses(worker_env)["processes"]}
        states = {pid: p["breakers"][0]["state"] for pid, p in processes.items() if pid in wanted}
        if len(states) == 3 and list(states.values()).count("open") == 2:
            break
        assert time.monotonic() < deadline, (processes, [w.stderr() for w in broken])
        # Keep the healthy worker polling; the broken ones already reported their transition.
        healthy.request()
        time.sleep(0.1)

    for worker in broken:
        row = processes[worker.process.pid]
        (breaker,) = row["breakers"]
        assert breaker["scope"] == "ratelimit"
        assert breaker["opened_by"] == "5 consecutive failures (connection)"
        assert (breaker["consecutive_failures"], breaker["recent_failures"]) == (5, 5)
        assert row["fallback_entries"] == 1  # one client, held in this worker's memory
        assert row["fallback_capacity"] == 50000
        assert row["seen_seconds_ago"] < LIVE_BOUND
        assert row["this_process"] is False
    assert processes[healthy.process.pid]["breakers"][0]["state"] == "closed"

    text = manage(worker_env, "ratelimit_guard", "status").stdout
    for worker in broken:
        assert f":{worker.process.pid}  ratelimit=open (5 consecutive failures" in text


LIVE_BOUND = 30
