"""The request path's side of the fleet channel: a clock compare, one poller thread per process."""

from __future__ import annotations

import os

from django_ratelimit_guard.ops import fleet_poll


def test_poll_is_a_clock_compare_and_wakes_the_poller_once_per_interval(settings, monkeypatch):
    monkeypatch.delenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS")  # conftest turns polling off
    monkeypatch.setattr(fleet_poll, "_thread", None)
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "CONTROL": {"POLL_SECONDS": 5}}
    now = [100.0]
    starts: list[int] = []
    monkeypatch.setattr(fleet_poll, "_clock", lambda: now[0])
    monkeypatch.setattr(fleet_poll, "_start", lambda: starts.append(1))
    monkeypatch.setattr(fleet_poll, "_wake", wake := __import__("threading").Event())
    fleet_poll.poll()
    assert wake.is_set() and len(starts) == 1
    wake.clear()
    now[0] = 104.9
    fleet_poll.poll()
    assert not wake.is_set()
    now[0] = 105.0
    fleet_poll.poll()
    assert wake.is_set()


def test_poll_starts_no_thread_when_polling_is_disabled(monkeypatch):
    assert os.environ["RATELIMIT_GUARD_CONTROL_POLL_SECONDS"] == "0"
    starts: list[int] = []
    monkeypatch.setattr(fleet_poll, "_start", lambda: starts.append(1))
    fleet_poll.poll()
    fleet_poll.poll()
    assert starts == []


def test_a_forked_child_forgets_the_parents_thread_and_polls_at_first_use():
    fleet_poll._thread_pid = os.getpid() + 1  # as if inherited from a parent
    fleet_poll._after_fork_in_child()
    assert fleet_poll._thread is None
    assert fleet_poll._next_poll == 0.0
