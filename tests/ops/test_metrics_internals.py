"""The decision path updates metrics through prometheus_client internals (``_value``, ``_sum``,
``_buckets``, ``_upper_bounds``). Each change a release could make is simulated (monkeypatch):
the public ``inc()`` / ``observe()`` take over and the exposition stays right (issue #14,
item 4)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY, Counter, Histogram

from django_ratelimit_guard.core.decisions import Result, new_decision
from django_ratelimit_guard.ops import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Opaque:
    """A value object of some future release: not from prometheus_client.values."""

    def inc(self, amount: float) -> None:
        raise AssertionError("an unknown internal must not be used")


@pytest.fixture(autouse=True)
def _fresh_caches(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(metrics, "_children", {})
    monkeypatch.setattr(metrics, "_decision_incs", {})
    monkeypatch.setattr(metrics, "_latency_observers", {})
    monkeypatch.setattr(metrics, "_local_denial_incs", {})


def decided(policy: str) -> Result:
    return Result([new_decision(policy, True, 5, 4, 1.0, 0.0, "redis", 60, True)])


@pytest.mark.parametrize("change", ["no _value", "another _value"])
def test_a_counter_whose_value_internal_changed_is_counted_through_its_public_inc(
    monkeypatch, change
):
    original = metrics._child

    def child(name: str, *labels: str) -> Any:
        made = original(name, *labels)
        if change == "no _value":
            monkeypatch.delattr(made, "_value")
            monkeypatch.setattr(made, "inc", lambda amount=1: counted.append(amount))
        else:
            monkeypatch.setattr(made, "_value", Opaque())
            monkeypatch.setattr(made, "inc", lambda amount=1: counted.append(amount))
        return made

    counted: list[float] = []
    monkeypatch.setattr(metrics, "_child", child)
    for _ in range(3):
        metrics.observe_result(None, decided(f"internals-{change}"))  # type: ignore[arg-type]
    metrics.local_denial(f"internals-{change}")
    assert counted == [1, 1, 1, 1]


def test_a_fast_update_that_raises_is_replaced_by_the_public_method_for_good(monkeypatch):
    policy = "internals-raises"
    before = value(
        "ratelimit_guard_decisions_total", policy=policy, outcome="allowed", source="redis"
    )
    metrics.observe_result(None, decided(policy))  # type: ignore[arg-type]
    key = (policy, True, "redis")

    def changed() -> None:
        raise TypeError("inc() takes an exemplar now")

    metrics._decision_incs[key] = changed  # what a changed internal would do on its next call
    for _ in range(2):
        metrics.observe_result(None, decided(policy))  # type: ignore[arg-type]
    assert metrics._decision_incs[key] is not changed
    after = value(
        "ratelimit_guard_decisions_total", policy=policy, outcome="allowed", source="redis"
    )
    assert after == before + 3


@pytest.mark.parametrize("change", ["_sum", "_buckets", "_upper_bounds"])
def test_a_histogram_whose_internals_changed_observes_through_its_public_method(
    monkeypatch, change
):
    original = metrics._child
    observed: list[float] = []

    def child(name: str, *labels: str) -> Any:
        made = original(name, *labels)
        if name == "store_latency":
            if change == "_upper_bounds":
                monkeypatch.setattr(made, change, tuple(made._upper_bounds))  # not a list
            else:
                monkeypatch.delattr(made, change)
            monkeypatch.setattr(made, "observe", observed.append)
        return made

    monkeypatch.setattr(metrics, "_child", child)
    metrics.observe_store_latency(f"internals-{change}", 0.003)
    assert observed == [0.003]


def test_the_fast_updates_match_the_public_exposition():
    """The internals as they are: the fast path is taken and counts exactly like inc/observe."""
    counter = Counter("rlg_test_internals_total", "test", ["x"], registry=None)
    histogram = Histogram("rlg_test_internals_seconds", "test", ["x"], registry=None)
    fast_inc = metrics._fast_inc(counter.labels("a"))
    fast_observe = metrics._fast_observe(histogram.labels("a"))
    assert fast_inc != counter.labels("a").inc  # the fast one, not the public method
    for _ in range(3):
        fast_inc()
        counter.labels("b").inc()
    for seconds in (0.0001, 0.003, 0.2, 5.0):
        fast_observe(seconds)
        histogram.labels("b").observe(seconds)

    def samples(metric: Any, label: str) -> list[tuple[str, float]]:
        return [
            (s.name + str(sorted((k, v) for k, v in s.labels.items() if k != "x")), s.value)
            for family in metric.collect()
            for s in family.samples
            if s.labels.get("x") == label and not s.name.endswith("_created")
        ]

    assert samples(counter, "a") == samples(counter, "b")
    assert samples(histogram, "a") == samples(histogram, "b")
