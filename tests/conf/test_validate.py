"""The section validators: the cache alias, environment overrides, CONTROL."""

from __future__ import annotations

import pytest

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
