"""core/logs.py: at most one line per kind and interval, with counts; the first line at once."""

from __future__ import annotations

import logging
import time

import pytest

from django_ratelimit_guard.core.logs import Aggregator

LOGGER = logging.getLogger("django_ratelimit_guard.tests.logs")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER.name]


def test_first_occurrence_of_a_kind_is_logged_at_once_as_written(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, LOGGER.name)
    agg = Aggregator(10.0, FakeClock(), background=False)
    assert agg.log(LOGGER, logging.WARNING, "k", "refused %s from %r", "x", "10.0.0.1")
    (record,) = lines(caplog)
    assert record.getMessage() == "refused x from '10.0.0.1'"
    assert record.levelno == logging.WARNING
    assert (record.log_kind, record.suppressed) == ("k", 0)  # type: ignore[attr-defined]


def test_a_thousand_occurrences_in_one_interval_are_two_lines_with_the_count(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, LOGGER.name)
    clock = FakeClock()
    agg = Aggregator(10.0, clock, background=False)
    for i in range(1000):
        agg.log(LOGGER, logging.WARNING, "k", "refused #%d", i)
        clock.now += 0.005
    assert len(lines(caplog)) == 1
    assert agg.pending() == 999
    assert agg.flush() == 0  # the interval has not ended yet
    clock.now += 10
    assert agg.flush() == 1
    _, summary = lines(caplog)
    assert summary.getMessage() == "refused #999 [and 999 more like this in the last 10 s]"
    assert summary.suppressed == 999  # type: ignore[attr-defined]
    assert agg.pending() == 0


@pytest.mark.parametrize("seconds", [30, 95])
def test_a_flood_that_goes_on_writes_one_line_per_interval(caplog, seconds: int) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, LOGGER.name)
    clock = FakeClock()
    agg = Aggregator(10.0, clock, background=False)
    sent = 0
    for _ in range(seconds * 100):  # 100 a second
        agg.log(LOGGER, logging.WARNING, "k", "refused")
        sent += 1
        clock.now += 0.01
        agg.flush()  # what the summary thread does at each interval's end
    clock.now += 10
    agg.flush()
    records = lines(caplog)
    assert len(records) <= seconds / 10 + 2
    summaries = [r for r in records if "more like this" in r.getMessage()]
    firsts = [r for r in records if r not in summaries]
    assert len(firsts) + sum(r.suppressed for r in summaries) == sent  # type: ignore[attr-defined]


def test_kinds_are_counted_apart_and_a_quiet_kind_logs_again_at_once(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, LOGGER.name)
    clock = FakeClock()
    agg = Aggregator(10.0, clock, background=False)
    assert agg.log(LOGGER, logging.INFO, "a", "a")
    assert agg.log(LOGGER, logging.INFO, "b", "b")
    assert not agg.log(LOGGER, logging.INFO, "a", "a")
    clock.now += 10.5
    assert agg.flush() == 1  # a's count
    clock.now += 10.5
    assert agg.log(LOGGER, logging.INFO, "a", "a again")  # quiet for a whole interval: at once
    assert [r.getMessage() for r in lines(caplog)] == [
        "a",
        "b",
        "a [and 1 more like this in the last 10 s]",
        "a again",
    ]


def test_traceback_goes_with_the_first_line_only(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, LOGGER.name)
    clock = FakeClock()
    agg = Aggregator(10.0, clock, background=False)
    for _ in range(3):
        try:
            raise ValueError("boom")
        except ValueError:
            agg.log(LOGGER, logging.ERROR, "k", "failed", exc_info=True)
    clock.now += 11
    agg.flush()
    first, summary = lines(caplog)
    assert first.exc_info is not None and summary.exc_info is None


def test_the_summary_thread_reports_a_flood_that_stopped(caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, LOGGER.name)
    agg = Aggregator(0.2)
    for _ in range(50):
        agg.log(LOGGER, logging.WARNING, "k", "refused")
    deadline = time.monotonic() + 5
    while agg.pending() and time.monotonic() < deadline:
        time.sleep(0.02)
    messages = [r.getMessage() for r in lines(caplog)]
    assert messages == ["refused", "refused [and 49 more like this in the last 0.2 s]"]
    deadline = time.monotonic() + 5
    while agg._thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert agg._thread is None  # nothing pending: the thread ended
