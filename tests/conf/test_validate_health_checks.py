"""BREAKER['HEALTH_CHECK_SECONDS']: validated like every breaker key, with its env override."""

from __future__ import annotations

import pytest

from django_ratelimit_guard.conf.settings import build_settings


def problems_of(raw: object) -> list[str]:
    _, problems = build_settings(raw)
    return [p.msg for p in problems if p.is_error]


@pytest.mark.parametrize("value", [0, 0.05, 0.5, 60])
def test_health_check_interval_in_range_or_zero_is_accepted(value: float, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", raising=False)
    built, _ = build_settings(
        {"CACHE_ALIAS": "ratelimit", "BREAKER": {"HEALTH_CHECK_SECONDS": value}}
    )
    assert built is not None
    assert built.breaker.health_check_seconds == value


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(0.01, "at least 0.05"), (-1, "0 to 60"), (61, "0 to 60"), ("1", "expected float")],
)
def test_health_check_interval_out_of_range_is_a_check_error(
    value: object, fragment: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", raising=False)
    messages = problems_of({"CACHE_ALIAS": "ratelimit", "BREAKER": {"HEALTH_CHECK_SECONDS": value}})
    assert any("HEALTH_CHECK_SECONDS" in m and fragment in m for m in messages), messages


def test_environment_variable_wins_and_a_malformed_one_is_named(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "2")
    built, _ = build_settings(
        {"CACHE_ALIAS": "ratelimit", "BREAKER": {"HEALTH_CHECK_SECONDS": 0.5}}
    )
    assert built is not None and built.breaker.health_check_seconds == 2.0
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS", "soon")
    messages = problems_of({"CACHE_ALIAS": "ratelimit"})
    assert any("RATELIMIT_GUARD_BREAKER_HEALTH_CHECK_SECONDS" in m for m in messages), messages
