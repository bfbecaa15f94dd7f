"""Breaker transitions: logged as one structured line, persisted at safe points, pruned, and never
breaking a request."""

from __future__ import annotations

import logging
import os

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, transaction

from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.models import BreakerEvent
from django_ratelimit_guard.ops import events
from tests.support.spec import metric_value

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_queue():
    events._pending.clear()
    yield
    events._pending.clear()


def test_transition_is_queued_not_written_by_the_listener(django_assert_num_queries):
    with django_assert_num_queries(0):
        events.on_transition("ev", "closed", "open", "5 consecutive failures")
    assert events.pending_count() == 1
    assert not BreakerEvent.objects.exists()


def test_queued_event_is_written_when_a_request_finishes(client, redis):
    events.on_transition("ev", "closed", "open", "timeout")
    client.get("/plain/")
    event = BreakerEvent.objects.get()
    assert (event.scope, event.from_state, event.to_state, event.reason) == (
        "ev",
        "closed",
        "open",
        "timeout",
    )
    assert event.pid == os.getpid()
    assert event.host == events.HOST
    assert events.pending_count() == 0


def test_enum_states_are_stored_by_value():
    class State:
        def __init__(self, value: str) -> None:
            self.value = value

    events.on_transition("ev", State("open"), State("half_open"), "probe")
    events.flush()
    assert BreakerEvent.objects.get().to_state == "half_open"


def test_history_is_pruned_to_the_newest_events(monkeypatch):
    monkeypatch.setattr(events, "KEEP_EVENTS", 5)
    for i in range(8):
        events.on_transition("ev", "closed", "open", f"n{i}")
    events.flush()
    events.prune(keep=5)
    assert sorted(BreakerEvent.objects.values_list("reason", flat=True)) == [
        f"n{i}" for i in range(3, 8)
    ]


def test_pending_queue_is_bounded():
    for i in range(events.MAX_PENDING + 50):
        events.on_transition("ev", "closed", "open", str(i))
    assert events.pending_count() == events.MAX_PENDING


def test_database_failure_is_logged_and_does_not_poison_the_callers_transaction(
    monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(BreakerEvent.objects, "bulk_create", broken)
    with transaction.atomic():
        events.on_transition("ev", "closed", "open", "x")
        assert events.flush() == 0
        User.objects.create(username="still-works")  # the outer transaction is usable
    assert User.objects.filter(username="still-works").exists()
    assert "Could not persist 1 breaker event" in caplog.text


def test_database_failure_after_a_request_does_not_break_it(client, redis, monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("no such table")

    monkeypatch.setattr(BreakerEvent.objects, "bulk_create", broken)
    events.on_transition("ev", "closed", "open", "x")
    assert client.get("/plain/").status_code == 200
    assert events.pending_count() == 0


def test_a_transition_logs_one_structured_line(caplog):
    breaker = get_breaker("log-scope")
    with caplog.at_level(logging.DEBUG, logger="django_ratelimit_guard"):
        breaker.force_open("maintenance")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert (record.scope, record.new_state, record.reason) == (
        "log-scope",
        "open",
        "forced open: maintenance",
    )  # type: ignore[attr-defined]
    assert metric_value("ratelimit_guard_breaker_state", scope="log-scope") == 2
    events._pending.clear()
