"""An operator's reset of one client reaches every worker process's remembered denial (issue #14):
real worker processes, one shared SQLite database, one real redis-server, ``manage.py
ratelimit_guard reset-key`` from yet another process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet.fixtures import POLL, SLACK
from tests.support.fleet.harness import Worker, command_created_at, manage
from tests.support.redis_servers import RedisServer
from tests.support.windows import inside_one_window

CLIENT = "192.0.2.10"  # tests/support/fleet/worker.py's REMOTE_ADDR (sync)
ASYNC_CLIENT = "127.0.0.1"  # what AsyncClient's scope reports


def decisions(server: RedisServer) -> int:
    """decide.lua's runs: every one reads the server clock (TIME), nothing else of ours does (the
    most-limited-clients table flushes its own EVALSHA once a second at most)."""
    stats = server.client().info("commandstats")
    return int(stats.get("cmdstat_time", {}).get("calls", 0))


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[Worker]]:
    started = [
        Worker(worker_env, mode, tmp_path / f"worker-{i}.log", "/tight/")
        for i, mode in enumerate(("sync", "sync", "async"))
    ]
    yield started
    for worker in started:
        worker.close()


def test_reset_key_makes_every_worker_forget_its_remembered_denial(
    worker_env,
    workers,
    redis_server,
):
    # 2/m in a sliding window: near a minute boundary Redis's retry shrinks to milliseconds and a
    # remembered denial ends before the 15 requests below are sent. Start inside one minute.
    inside_one_window(60, 16)
    for client in (CLIENT, ASYNC_CLIENT):
        assert manage(worker_env, "ratelimit_guard", "reset-key", "tight", client).returncode == 0
    # Those resets reach every worker too: let each apply them before it remembers a denial
    # (a worker polling late would forget the denial below and ask Redis once).
    time.sleep(POLL + SLACK)
    sync_a, sync_b, async_c = workers
    # 2/m: the two sync workers share a client, the async worker is a client of its own.
    assert [sync_a.request()["status"], sync_b.request()["status"]] == [200, 200]
    assert [sync_a.request()["status"], sync_b.request()["status"]] == [429, 429]
    assert [async_c.request()["status"] for _ in range(3)] == [200, 200, 429]
    before = decisions(redis_server)
    for worker in workers:
        for _ in range(5):
            assert worker.request() | {"pid": 0, "t": 0} == {
                "pid": 0,
                "t": 0,
                "source": "redis",
                "status": 429,
            }
    assert decisions(redis_server) == before  # 15 denials, not one decided in Redis

    for client in (ASYNC_CLIENT, CLIENT):
        reset = manage(worker_env, "ratelimit_guard", "reset-key", "tight", client)
        assert reset.returncode == 0, reset.stderr
        assert "fleet command #" in reset.stdout
    issued = command_created_at(Path(worker_env["RLG_FLEET_DB"]), "reset_client")
    back: dict[int, float] = {}
    deadline = time.monotonic() + POLL + 5
    while len(back) < len(workers) and time.monotonic() < deadline:
        for worker in workers:
            if worker.process.pid not in back:
                # A worker that has not applied the command yet still denies from memory; once
                # it has, Redis (reset) allows the request.
                answer = worker.request()
                if answer["status"] == 200:
                    back[worker.process.pid] = answer["t"]
        time.sleep(0.02)
    assert len(back) == len(workers), "some worker kept its remembered denial"
    delays = sorted(t - issued for t in back.values())
    print(f"client reset propagation delays (s): {[round(d, 3) for d in delays]}")
    assert delays[-1] <= POLL + SLACK, delays
