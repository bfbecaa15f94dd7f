"""Overrides reach every worker process within 2 s — idle ones included — through the database
(issue #15): four real worker processes (two sync, two async) with the default poll interval."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from django_ratelimit_guard.conf.sections import ControlSettings
from tests.support.fleet.harness import Worker, fleet_env, manage


def created_at(db: Path) -> float:
    with sqlite3.connect(db) as conn:
        (text,) = conn.execute(
            "SELECT created_at FROM django_ratelimit_guard_ratelimitoverride ORDER BY id DESC"
        ).fetchone()
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.fixture
def fleet(tmp_path, redis_server):  # type: ignore[no-untyped-def]
    if redis_server.process is None:
        redis_server.start()
    db = tmp_path / "fleet.sqlite3"
    env = fleet_env(db, redis_server.url, ControlSettings().poll_seconds)
    assert manage(env, "migrate", "--noinput", "-v", "0").returncode == 0
    workers = [Worker(env, mode, tmp_path / f"w{i}.log") for i, mode in enumerate("ssaa")]
    yield env, db, workers
    for worker in workers:
        worker.close()


def test_a_block_reaches_four_idle_workers_within_two_seconds_and_its_removal_too(fleet):
    env, db, workers = fleet
    assert ControlSettings().poll_seconds <= 1.0  # the default this claim rests on
    for worker in workers:  # each worker has served a request: its poller runs
        assert worker.request()["source"] == "redis"
    time.sleep(1.5)  # now idle: no request wakes their pollers
    added = manage(env, "ratelimit_guard", "override", "add", "fleet", "192.0.2.10", "--block")
    assert added.returncode == 0, added.stderr
    deadline = created_at(db) + 2.0
    time.sleep(max(0.0, deadline - time.time()))
    assert [w.request()["source"] for w in workers] == ["override"] * 4

    listed = manage(env, "ratelimit_guard", "override", "list", "--json")
    rule_id = listed.stdout.split('"id": ')[1].split(",")[0]
    removed_at = time.time()
    assert manage(env, "ratelimit_guard", "override", "remove", rule_id).returncode == 0
    time.sleep(max(0.0, removed_at + 2.0 + 1.0 - time.time()))  # + the command's own start-up
    assert [w.request()["source"] for w in workers] == ["redis"] * 4
