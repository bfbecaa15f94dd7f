"""The event bus (core/bus.py): subscribers in order, once each, never in the publisher's way."""

from __future__ import annotations

import logging

import pytest

from django_ratelimit_guard.core.bus import Topic


def test_subscribers_hear_every_publication_in_subscription_order():
    topic: Topic[[int]] = Topic("t")
    heard: list[tuple[str, int]] = []

    def first(n: int) -> None:
        heard.append(("first", n))

    def second(n: int) -> None:
        heard.append(("second", n))

    topic.subscribe(first)
    topic.subscribe(second)
    topic.subscribe(first)  # once only
    topic.publish(1)
    topic.unsubscribe(first)
    topic.publish(2)
    assert heard == [("first", 1), ("second", 1), ("second", 2)]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(caplog):
    topic: Topic[[]] = Topic("decided")
    heard: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    topic.subscribe(broken)
    topic.subscribe(lambda: heard.append("after"))
    with caplog.at_level(logging.ERROR, logger="django_ratelimit_guard"):
        topic.publish()
    assert heard == ["after"]
    (record,) = caplog.records
    assert "'decided' subscriber failed" in record.getMessage()
    assert record.exc_info is not None


def test_a_topic_that_is_not_robust_lets_the_error_through():
    topic: Topic[[]] = Topic("settings_reloaded", robust=False)

    def broken() -> None:
        raise RuntimeError("a cache that could not be dropped")

    topic.subscribe(broken)
    with pytest.raises(RuntimeError):
        topic.publish()


def test_a_subscriber_added_while_publishing_hears_the_next_publication_only():
    topic: Topic[[]] = Topic("t")
    heard: list[str] = []

    def late() -> None:
        heard.append("late")

    def adding() -> None:
        heard.append("adding")
        topic.subscribe(late)

    topic.subscribe(adding)
    topic.publish()
    assert heard == ["adding"]
    topic.publish()
    assert heard == ["adding", "adding", "late"]
