"""The fleet channel across real processes: worker subprocesses running Django with the test
settings, one shared SQLite database file, one real redis-server, commands issued by
``manage.py ratelimit_guard`` from yet another process."""

from __future__ import annotations

import time

from tests.support.fleet.fixtures import POLL, SLACK
from tests.support.fleet.harness import (
    breaker_events,
    command_created_at,
    manage,
    wait_for_source,
)


def test_force_open_reaches_every_process_within_the_poll_interval_and_reset_brings_them_back(
    worker_env, fleet_db, spawn, redis_server
):
    workers = [spawn(worker_env, "sync"), spawn(worker_env, "sync"), spawn(worker_env, "async")]
    for worker in workers:
        assert worker.request()["source"] == "redis"  # up, polling, on Redis

    forced = manage(worker_env, "ratelimit_guard", "force-open", "ratelimit", "--reason", "upgrade")
    assert forced.returncode == 0, forced.stderr
    assert "every process applies it" in forced.stdout
    issued = command_created_at(fleet_db, "force_open")
    on_memory = wait_for_source(workers, "memory", timeout=POLL + 3)
    assert len(on_memory) == len(workers), "some worker never left Redis"
    delays = sorted(t - issued for t in on_memory.values())
    print(f"force-open propagation delays (s): {[round(d, 3) for d in delays]}")
    assert delays[-1] <= POLL + SLACK, delays
    # Each process recorded its own transition, naming the fleet command.
    pids = {w.process.pid for w in workers}
    forced_pids = {
        pid
        for pid, to, reason in breaker_events(fleet_db)
        if to == "open" and "fleet command #" in reason
    }
    assert pids <= forced_pids

    # A worker started now obeys the standing force-open (its first request kicks the sync).
    late = spawn(worker_env, "sync")
    assert wait_for_source([late], "memory", timeout=POLL + 1), late.stderr()

    reset = manage(worker_env, "ratelimit_guard", "reset-breaker", "ratelimit")
    assert reset.returncode == 0, reset.stderr
    issued = command_created_at(fleet_db, "reset")
    on_redis = wait_for_source([*workers, late], "redis", timeout=POLL + 3)
    assert len(on_redis) == len(workers) + 1, "some worker stayed off Redis"
    delays = sorted(t - issued for t in on_redis.values())
    print(f"reset propagation delays (s): {[round(d, 3) for d in delays]}")
    assert delays[-1] <= POLL + SLACK, delays


def test_status_command_names_the_standing_force_open(worker_env, fleet_db):
    assert (
        manage(
            worker_env,
            "ratelimit_guard",
            "force-open",
            "*",
            "--reason",
            "failover",
            "--by",
            "alice",
        ).returncode
        == 0
    )
    status = manage(worker_env, "ratelimit_guard", "status")
    assert status.returncode == 1  # degraded: this process's breaker is forced open too
    assert "Fleet: every breaker forced open since" in status.stdout
    assert "by alice: failover" in status.stdout
    assert "process" in status.stdout.splitlines()[0]  # still says which host/pid it describes


def test_worker_whose_database_is_down_still_serves_requests_and_logs_it_once(
    worker_env, spawn, tmp_path
):
    broken = {**worker_env, "RLG_FLEET_DB": str(tmp_path / "missing-dir" / "db.sqlite3")}
    worker = spawn(broken, "sync")
    answers = [worker.request() for _ in range(3)]
    deadline = time.monotonic() + 4 * POLL  # several failed polls
    while time.monotonic() < deadline:
        answers.append(worker.request())
        time.sleep(0.05)
    assert {a["source"] for a in answers} == {"redis"}
    assert worker.stderr().count("Fleet commands could not be read") == 1


def test_command_exits_1_and_changes_nothing_when_the_database_is_down(worker_env, tmp_path):
    broken = {**worker_env, "RLG_FLEET_DB": str(tmp_path / "missing-dir" / "db.sqlite3")}
    result = manage(broken, "ratelimit_guard", "force-open", "ratelimit")
    assert result.returncode == 1
    assert "could not be recorded for the fleet, so nothing was changed" in result.stderr
