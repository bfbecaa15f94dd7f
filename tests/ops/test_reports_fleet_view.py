"""The fleet-wide view's parts in one process (issue #13, item 12): what a process reports,
which processes are live, pruning, an open breaker's figures, a probe that is due; the status
page and ``status --json`` show them."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.ops import reports, status
from django_ratelimit_guard.ops.models import ProcessReport

pytestmark = pytest.mark.django_db


def open_by_failures(scope: str = "ratelimit", failures: int = 5) -> None:
    breaker = get_breaker(scope)
    for _ in range(failures):
        call = breaker.acquire()
        assert call is not None
        call.failure("connection")


def fake_process(host: str, pid: int, state: str, seen: float, entries: int = 0) -> None:
    now = datetime.now(timezone.utc)
    breaker = {
        "scope": "ratelimit",
        "state": state,
        "forced": False,
        "consecutive_failures": 5 if state == "open" else 0,
        "recent_failures": 5 if state == "open" else 0,
        "recent_calls": 5 if state == "open" else 0,
        "opened_by": "5 consecutive failures (connection)" if state == "open" else "",
        "opened_at": None,
        "next_probe_at": None,
        "open_count": 1 if state == "open" else 0,
    }
    ProcessReport.objects.create(
        host=host,
        pid=pid,
        seen_at=now - timedelta(seconds=seen),
        started_at=now - timedelta(hours=1),
        report=json.dumps(
            {
                "breakers": [breaker],
                "fallback": {"entries": entries, "capacity": 50000, "evictions": {}},
            }
        ),
    )


def test_an_open_breakers_row_shows_the_failures_that_opened_it():
    open_by_failures()
    (row,) = [r for r in status.breaker_rows() if r.scope == "ratelimit"]
    assert row.state == "open"
    assert (row.consecutive_failures, row.recent_failures, row.recent_calls) == (5, 5, 5)
    assert row.opened_by == "5 consecutive failures (connection)"


def test_a_closed_breaker_reports_its_live_window_and_nothing_that_opened_it():
    get_breaker("ratelimit").reset()
    (row,) = [r for r in status.breaker_rows() if r.scope == "ratelimit"]
    assert (row.state, row.opened_by) == ("closed", "")


def test_a_next_probe_that_is_due_says_due(settings, admin_client):
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "BREAKER": {"RESET_TIMEOUT": 0.05, "MAX_RESET_TIMEOUT": 0.05, "JITTER": 0.0},
    }
    open_by_failures()
    time.sleep(0.1)  # the probe is due; no request has come to send it
    (row,) = [r for r in status.breaker_rows() if r.scope == "ratelimit"]
    assert row.next_probe_due
    page = admin_client.get("/admin/django_ratelimit_guard/status/")
    assert '<td class="rlg-next-probe">due</td>' in page.content.decode()


def test_a_heartbeat_reports_this_processs_breakers_and_fallback_fill():
    open_by_failures()
    reports.heartbeat(force=True)
    processes, error = reports.live()
    assert error is None
    (me,) = [p for p in processes if p.this_process]
    (breaker,) = [b for b in me.breakers if b["scope"] == "ratelimit"]
    assert (breaker["state"], breaker["consecutive_failures"]) == ("open", 5)
    assert me.fallback_capacity == 50000
    assert me.seen_seconds_ago < 5


def test_a_heartbeat_writes_when_the_report_changed_or_is_due_only():
    reports.heartbeat(force=True)
    first = ProcessReport.objects.get().seen_at
    assert reports.heartbeat() > reports.HEARTBEAT_SECONDS - 1  # nothing changed: no write
    assert ProcessReport.objects.get().seen_at == first
    open_by_failures()
    assert reports.heartbeat() == reports.HEARTBEAT_SECONDS  # a breaker opened: written
    assert ProcessReport.objects.get().seen_at > first
    assert '"state": "open"' in ProcessReport.objects.get().report


def test_processes_not_seen_for_half_a_minute_are_not_live():
    fake_process("web-1", 101, "open", seen=2)
    fake_process("web-2", 102, "closed", seen=reports.LIVE_SECONDS + 5)
    processes, _ = reports.live()
    assert [(p.host, p.pid) for p in processes] == [("web-1", 101)]


def test_dead_processes_are_pruned_and_the_table_is_bounded(monkeypatch):
    fake_process("web-1", 101, "closed", seen=1)
    fake_process("web-9", 109, "closed", seen=reports.PRUNE_SECONDS + 1)
    reports.prune()
    assert list(ProcessReport.objects.values_list("pid", flat=True)) == [101]
    monkeypatch.setattr(reports, "MAX_ROWS", 2)
    for pid in range(200, 205):
        fake_process("web-x", pid, "closed", seen=pid - 200 + 0.5)
    reports.prune()
    assert sorted(ProcessReport.objects.values_list("pid", flat=True)) == [101, 200]


def test_status_json_lists_every_live_process_with_states_fill_and_last_seen(capsys):
    fake_process("web-1", 101, "open", seen=1, entries=40)
    fake_process("web-2", 102, "open", seen=3, entries=12)
    fake_process("web-3", 103, "closed", seen=2)
    with pytest.raises(CommandError):  # degraded: no Redis at the test settings' port, exit 1
        call_command("ratelimit_guard", "status", "--json")
    data = json.loads(capsys.readouterr().out)
    rows = {p["pid"]: p for p in data["processes"]}
    assert set(rows) == {101, 102, 103}  # the command itself is not a worker: not reported
    assert [rows[pid]["breakers"][0]["state"] for pid in (101, 102, 103)] == [
        "open",
        "open",
        "closed",
    ]
    assert rows[101]["host"] == "web-1"
    assert rows[101]["fallback_entries"] == 40
    assert rows[101]["fill_percent"] == 0.1
    assert 0 < rows[102]["seen_seconds_ago"] < 10
    assert rows[101]["breakers"][0]["opened_by"] == "5 consecutive failures (connection)"


def test_the_status_page_lists_every_live_process_and_marks_this_one(admin_client):
    fake_process("web-1", 101, "open", seen=1, entries=40)
    page = admin_client.get("/admin/django_ratelimit_guard/status/").content.decode()
    assert 'data-host="web-1" data-pid="101" data-open="1"' in page
    assert "(this process)" in page  # the process serving the page reported itself
    assert "5 consecutive failures (connection); 5 / 5 failed, 5 consecutive" in page


def test_a_missing_table_is_logged_as_a_missing_migrate_not_only_as_an_outage(caplog, monkeypatch):
    from django.db import OperationalError

    from django_ratelimit_guard.ops import fleet

    def no_table(floor):
        raise OperationalError("no such table: django_ratelimit_guard_breakercommand")

    fleet.forget()
    monkeypatch.setattr(fleet, "_read", no_table)
    assert not fleet.sync()
    assert "run `manage.py migrate`" in caplog.text
