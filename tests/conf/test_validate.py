"""The section validators: the cache alias, environment overrides, CONTROL."""

from __future__ import annotations

import pytest

from django_ratelimit_guard.conf.settings import build_settings
from django_ratelimit_guard.edge.checks import check_settings
from tests.support.builders import ALIAS_ONLY, setting_check_ids


@pytest.mark.parametrize(
    ("caches", "expected"),
    [
        ({}, "E006"),
        ({"ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}, "E007"),
    ],
)
def test_cache_alias_must_be_django_redis(settings, caches, expected):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        **caches,
    }
    assert f"ratelimit_guard.{expected}" in setting_check_ids(ALIAS_ONLY, settings)


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("RATELIMIT_GUARD_BREAKER_FAILURE_THRESHOLD", "many"),
        ("RATELIMIT_GUARD_FALLBACK_MAX_ENTRIES", "5"),
        ("RATELIMIT_GUARD_FALLBACK_RECONCILE", "perhaps"),
    ],
)
def test_malformed_environment_override_is_an_error_naming_the_variable(
    settings, monkeypatch, env, value
):
    monkeypatch.setenv(env, value)
    settings.RATELIMIT_GUARD = ALIAS_ONLY
    messages = [m for m in check_settings() if m.level >= 40]
    assert any(env in m.msg for m in messages)


@pytest.mark.parametrize(
    ("control", "message"),
    [
        ({"POLL_SECONDS": -1}, "expected 0 to 300"),
        ({"POLL_SECONDS": "2"}, "expected float"),
        ({"KEEP_COMMANDS": 1}, "expected 10 to 100000"),
        ({"EVERY": 1}, "unknown key 'EVERY'"),
        ("fast", "must be a dict"),
    ],
)
def test_bad_control_settings_are_check_error_e081(settings, monkeypatch, control, message):
    monkeypatch.delenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS")  # it would win over the dict
    built, problems = build_settings({**settings.RATELIMIT_GUARD, "CONTROL": control})
    assert built is None
    assert [p.id for p in problems] == ["ratelimit_guard.E081"]
    assert message in problems[0].msg


def test_malformed_poll_environment_variable_is_e081(settings, monkeypatch):
    monkeypatch.setenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "soon")
    _, problems = build_settings(settings.RATELIMIT_GUARD)
    assert any(
        p.id == "ratelimit_guard.E081" and "RATELIMIT_GUARD_CONTROL_POLL_SECONDS" in p.msg
        for p in problems
    )
