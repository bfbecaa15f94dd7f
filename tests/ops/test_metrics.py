"""Metrics (SPEC §8): names, labels, values from real requests, and multiprocess merging."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from django_ratelimit_guard.ops import events, metrics
from tests.support.builders import unreachable_cache
from tests.support.spec import SPEC_METRICS, metric_value


def test_every_spec_metric_exists_with_exactly_its_bounded_labels():
    declared = {}
    for metric in metrics.METRICS.values():
        name = metric._name + ("_total" if metric._type == "counter" else "")
        declared[name] = set(metric._labelnames)
    assert declared == SPEC_METRICS


def test_every_gauge_has_a_deliberate_multiprocess_mode_and_no_enum_is_used():
    gauges = {
        m._name: m._multiprocess_mode for m in metrics.METRICS.values() if isinstance(m, Gauge)
    }
    assert gauges == {
        "ratelimit_guard_breaker_state": "livemax",
        "ratelimit_guard_fallback_entries": "livesum",
        "ratelimit_guard_fallback_capacity": "livesum",
    }
    assert {m._type for m in metrics.METRICS.values()} <= {"counter", "gauge", "histogram"}


@pytest.mark.django_db
def test_allowed_and_limited_decisions_are_counted_by_policy_and_source(client, redis):
    labels = {"policy": "login", "source": "redis"}
    allowed, limited = (
        metric_value("ratelimit_guard_decisions_total", outcome="allowed", **labels),
        metric_value("ratelimit_guard_decisions_total", outcome="limited", **labels),
    )
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="192.0.2.50")
    assert (
        metric_value("ratelimit_guard_decisions_total", outcome="allowed", **labels) == allowed + 3
    )
    assert (
        metric_value("ratelimit_guard_decisions_total", outcome="limited", **labels) == limited + 1
    )


@pytest.mark.django_db
def test_each_redis_store_call_is_timed(client, redis):
    before = metric_value("ratelimit_guard_store_latency_seconds_count", store="redis")
    client.post("/login/")
    assert metric_value("ratelimit_guard_store_latency_seconds_count", store="redis") == before + 1


@pytest.mark.django_db
def test_store_errors_are_counted_by_scope_and_kind(client, settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": unreachable_cache(),
    }
    before = metric_value(
        "ratelimit_guard_store_errors_total", scope="ratelimit", error="connection"
    )
    memory_calls = metric_value("ratelimit_guard_store_latency_seconds_count", store="memory")
    assert client.get("/api/items/").status_code == 200  # fail_mode memory
    assert (
        metric_value("ratelimit_guard_store_errors_total", scope="ratelimit", error="connection")
        == before + 1
    )
    assert (
        metric_value("ratelimit_guard_store_latency_seconds_count", store="memory")
        == memory_calls + 1
    )


def test_transition_sets_the_state_gauge_and_counts_the_transition():
    before = metric_value(
        "ratelimit_guard_breaker_transitions_total",
        scope="m-scope",
        from_state="closed",
        to_state="open",
    )
    events.on_transition("m-scope", "closed", "open", "test")
    assert metric_value("ratelimit_guard_breaker_state", scope="m-scope") == 2
    assert (
        metric_value(
            "ratelimit_guard_breaker_transitions_total",
            scope="m-scope",
            from_state="closed",
            to_state="open",
        )
        == before + 1
    )
    events.on_transition("m-scope", "open", "half_open", "probe")
    assert metric_value("ratelimit_guard_breaker_state", scope="m-scope") == 1
    events._pending.clear()


def test_fallback_evictions_counter_advances_by_the_store_delta():
    before = metric_value("ratelimit_guard_fallback_evictions_total", reason="t-expired")
    metrics._evictions_seen.pop("t-expired", None)
    metrics.refresh_fallback(5, 50, {"t-expired": 3})
    metrics.refresh_fallback(7, 50, {"t-expired": 5})
    assert (
        metric_value("ratelimit_guard_fallback_evictions_total", reason="t-expired") == before + 5
    )
    # The gauges themselves are read from the fallback store at scrape time (issue #13 item 11:
    # tests/ops/test_fallback_gauges_scrape_time.py), so a scrape shows the store, not 7 / 50.


def _merged(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _worker(directory: Path, state: str, limited: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "DJANGO_SETTINGS_MODULE": "tests.support.settings",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.metrics_worker", state, str(limited)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.communicate("\n", timeout=10)  # also closes the pipes


def test_two_worker_processes_merge_counters_and_report_the_worst_live_breaker_state(tmp_path):
    state = ("ratelimit_guard_breaker_state", (("scope", "ratelimit"),))
    limited = (
        "ratelimit_guard_decisions_total",
        (("outcome", "limited"), ("policy", "login"), ("source", "redis")),
    )
    opened = _worker(tmp_path, "open", 2)
    healthy = _worker(tmp_path, "closed", 3)
    try:
        merged = _merged(tmp_path)
        assert merged[state] == 2  # one worker has it open: the fleet reports open
        assert merged[limited] == 5  # counters add up across workers
        assert merged[("ratelimit_guard_fallback_capacity", ())] == 200  # livesum over 2 workers
        bucket = "ratelimit_guard_store_latency_seconds_bucket"
        assert merged[(bucket, (("le", "0.0002"), ("store", "redis")))] == 0
        assert merged[(bucket, (("le", "0.0005"), ("store", "redis")))] == 2  # one per worker
        assert merged[("ratelimit_guard_store_latency_seconds_count", (("store", "redis"),))] == 2
        _stop(opened)
        mark_process_dead(opened.pid, str(tmp_path))  # what gunicorn's child_exit hook does
        merged = _merged(tmp_path)
        assert merged[state] == 0  # only the live, healthy worker counts now
        assert merged[limited] == 5  # counters of a dead worker are kept
    finally:
        for proc in (opened, healthy):
            if proc.poll() is None:
                _stop(proc)


@hsettings(deadline=None)  # timing is not what this tests; CI machines are shared
@given(
    st.lists(
        st.floats(0, 5, allow_nan=False) | st.sampled_from(metrics.LATENCY_BUCKETS), max_size=30
    )
)
def test_the_fast_update_paths_expose_what_prometheus_clients_own_methods_do(values):
    from prometheus_client import Counter, Histogram

    exposed = []
    for fast in (False, True):
        registry = CollectorRegistry()
        histogram = Histogram(
            "h_seconds", "h", ["store"], buckets=metrics.LATENCY_BUCKETS, registry=registry
        )
        counter = Counter("c", "c", ["policy"], registry=registry)
        observe = (
            metrics._fast_observe(histogram.labels("redis"))
            if fast
            else histogram.labels("redis").observe
        )
        inc = metrics._fast_inc(counter.labels("p")) if fast else counter.labels("p").inc
        for value in values:
            observe(value)
            inc()
        text = generate_latest(registry).decode()
        exposed.append([line for line in text.splitlines() if "_created" not in line])
    assert exposed[0] == exposed[1]


def test_the_fast_update_paths_fall_back_to_the_public_methods_on_unknown_internals():
    class Child:
        def inc(self) -> None: ...
        def observe(self, seconds: float) -> None: ...

    child = Child()
    assert metrics._fast_inc(child) == child.inc
    assert metrics._fast_observe(child) == child.observe
