"""RATELIMIT_GUARD built whole: every problem at once, environment overrides, the key prefix."""

from __future__ import annotations

import pytest

from django_ratelimit_guard.conf.settings import build_settings, guard_settings
from tests.support.builders import ALIAS_ONLY, setting_check_ids


def test_every_problem_is_reported_at_once(settings):
    found = setting_check_ids(
        {
            **ALIAS_ONLY,
            "SURPRISE": 1,
            "POLICIES": {
                "a": {"rate": "5/minute"},
                "b": {"rate": "5/m", "algorithm": "leaky"},
                "c": {"rate": "5/m", "key": "cookie"},
                "d": {"rate": "5/m", "fail_mode": "maybe"},
                "e": {"rate": "5/m", "critical": True, "fail_mode": "open"},
                "f": {"rate": "5/m", "colour": "red"},
            },
        },
        settings,
    )
    for expected in ("E001", "E002", "E003", "E004", "E005", "E009", "E014"):
        assert f"ratelimit_guard.{expected}" in found


def test_environment_overrides_win_over_the_dict(settings, monkeypatch):
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_FAILURE_THRESHOLD", "9")
    settings.RATELIMIT_GUARD = {**ALIAS_ONLY, "BREAKER": {"FAILURE_THRESHOLD": 3}}
    assert guard_settings().breaker.failure_threshold == 9


@pytest.mark.parametrize("prefix", ["", "a{b", "has space", 5])
def test_key_prefix_without_braces_or_whitespace(settings, prefix):
    assert "ratelimit_guard.E015" in setting_check_ids(
        {**ALIAS_ONLY, "KEY_PREFIX": prefix}, settings
    )


def test_a_poll_interval_from_the_environment_wins_over_the_dict(settings, monkeypatch):
    monkeypatch.setenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "0.25")
    built, _ = build_settings({**settings.RATELIMIT_GUARD, "CONTROL": {"POLL_SECONDS": 5}})
    assert built is not None and built.control.poll_seconds == 0.25
