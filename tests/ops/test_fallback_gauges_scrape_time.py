"""The fallback gauges are true at scrape time (issue #13, item 11): in one process, and under
gunicorn's multiprocess mode, where each worker refreshes its own figures from a thread."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import RequestFactory
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from django_ratelimit_guard import check
from django_ratelimit_guard.ops import fallback_gauges
from django_ratelimit_guard.stores.fallback import fallback_store

ROOT = Path(__file__).resolve().parents[2]
rf = RequestFactory()


def scraped(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def outage(settings):
    """No Redis (the test settings' unreachable port): every decision is made in memory."""
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"mem": {"rate": "2/2s", "key": "ip", "algorithm": "fixed_window"}},
        "BREAKER": {"FAILURE_THRESHOLD": 1},
        "FALLBACK": {"MAX_ENTRIES": 100},
    }
    fallback_store().clear()


def burst(clients: int) -> None:
    for i in range(clients):
        check(rf.get("/", REMOTE_ADDR=f"10.0.{i // 250}.{i % 250}"), "mem")


def test_a_scrape_right_after_an_outage_burst_shows_every_client_held_in_memory(outage):
    burst(4)  # within a second: the old refresh ran at most once a second, and read 1
    assert scraped("ratelimit_guard_fallback_entries") == 4
    assert scraped("ratelimit_guard_fallback_capacity") == 100


def test_a_scrape_shows_every_eviction_of_a_flood(outage):
    before = scraped("ratelimit_guard_fallback_evictions_total", reason="lru")
    burst(600)  # 100 slots: 500 entries make room for newer ones
    evicted = sum(fallback_store().evictions.values())
    assert evicted == 500
    assert (
        scraped("ratelimit_guard_fallback_evictions_total", reason="lru") - before
        == (fallback_store().evictions["lru"])
    )
    assert scraped("ratelimit_guard_fallback_entries") == 100


def test_after_recovery_the_entries_gauge_falls_as_the_outage_entries_expire(outage):
    burst(4)
    assert scraped("ratelimit_guard_fallback_entries") == 4
    time.sleep(2.2)  # the 2-second window ends: the entries expire, with no decision since
    assert scraped("ratelimit_guard_fallback_entries") == 0
    assert fallback_store().entries == 4  # their slots wait for new keys; they are free room


WORKER = """
import os, sys, time
import django
django.setup()
from django.test import RequestFactory
from django_ratelimit_guard import check
from django_ratelimit_guard.ops import fallback_gauges
rf = RequestFactory()
for i in range(int(sys.argv[1])):
    check(rf.get("/", REMOTE_ADDR=f"198.51.100.{i}"), "mem")
assert fallback_gauges.thread_alive()
print("ready", flush=True)
sys.stdin.readline()
"""

SETTINGS = """
from tests.support.settings import *  # noqa: F403
RATELIMIT_GUARD = {
    **RATELIMIT_GUARD,
    "POLICIES": {"mem": {"rate": "2/5s", "key": "ip"}},
    "BREAKER": {"FAILURE_THRESHOLD": 1},
    "FALLBACK": {"MAX_ENTRIES": 100},
}
"""


def merged(directory: Path) -> dict[str, float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(directory))
    return {
        s.name: s.value
        for family in registry.collect()
        for s in family.samples
        if s.name in ("ratelimit_guard_fallback_entries", "ratelimit_guard_fallback_capacity")
    }


def test_multiprocess_workers_keep_their_fallback_figures_fresh_without_decisions(tmp_path):
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (tmp_path / "mp_settings.py").write_text(SETTINGS)
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DJANGO_SETTINGS_MODULE": "mp_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for n in (3, 5)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        # The sliding window's entries live 5 to 10 s; the workers refresh every second.
        time.sleep(fallback_gauges.REFRESH_SECONDS + 0.5)
        assert merged(metrics_dir) == {
            "ratelimit_guard_fallback_entries": 8,  # 3 + 5, summed over live workers
            "ratelimit_guard_fallback_capacity": 200,
        }
        # Recovery: no worker decides anything more, and the entries expire.
        deadline = time.monotonic() + 10 + 2 * fallback_gauges.REFRESH_SECONDS + 5
        while merged(metrics_dir)["ratelimit_guard_fallback_entries"] and (
            time.monotonic() < deadline
        ):
            time.sleep(0.25)
        assert merged(metrics_dir)["ratelimit_guard_fallback_entries"] == 0
    finally:
        for worker in workers:
            worker.communicate("\n", timeout=10)
