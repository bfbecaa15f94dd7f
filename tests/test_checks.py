"""Configuration problems are reported all at once: system checks and ImproperlyConfigured."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_ratelimit_guard.apps import RateLimitGuardConfig
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.edge.checks import check_settings


def ids(settings_value, settings):
    settings.RATELIMIT_GUARD = settings_value
    return sorted(m.id for m in check_settings())


BASE = {"CACHE_ALIAS": "ratelimit"}


def test_valid_settings_have_no_errors(settings):
    assert [i for i in ids(settings.RATELIMIT_GUARD, settings) if ".E" in i] == []


def test_every_problem_is_reported_at_once(settings):
    found = ids(
        {
            **BASE,
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


def test_critical_policy_may_not_inherit_open_fail_mode(settings):
    found = ids(
        {
            **BASE,
            "DEFAULT_FAIL_MODE": "open",
            "POLICIES": {"otp": {"rate": "3/m", "critical": True}},
        },
        settings,
    )
    assert "ratelimit_guard.E009" in found


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
    assert f"ratelimit_guard.{expected}" in ids(BASE, settings)


def test_missing_or_slow_socket_timeouts_and_ignore_exceptions_warn(settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_TIMEOUT": 5, "IGNORE_EXCEPTIONS": True},
        },
    }
    found = ids(BASE, settings)
    assert {"ratelimit_guard.W001", "ratelimit_guard.W002", "ratelimit_guard.W003"} <= set(found)


def test_middleware_before_authentication_warns_when_a_policy_keys_on_the_user(settings):
    settings.MIDDLEWARE = [
        "django_ratelimit_guard.middleware.RateLimitMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    found = ids(
        {**BASE, "POLICIES": {"api": {"rate": "5/m", "key": "user", "paths": ["/api/"]}}}, settings
    )
    assert "ratelimit_guard.W004" in found


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
    settings.RATELIMIT_GUARD = BASE
    messages = [m for m in check_settings() if m.level >= 40]
    assert any(env in m.msg for m in messages)


def test_environment_overrides_win_over_the_dict(settings, monkeypatch):
    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_FAILURE_THRESHOLD", "9")
    settings.RATELIMIT_GUARD = {**BASE, "BREAKER": {"FAILURE_THRESHOLD": 3}}
    assert guard_settings().breaker.failure_threshold == 9


def test_app_ready_raises_improperly_configured_listing_every_problem(settings):
    settings.RATELIMIT_GUARD = {
        **BASE,
        "POLICIES": {"a": {"rate": "5/minute"}, "b": {"rate": "0/m"}},
    }
    import django_ratelimit_guard

    with pytest.raises(ImproperlyConfigured) as info:
        RateLimitGuardConfig("django_ratelimit_guard", django_ratelimit_guard).ready()
    assert "2 problems" in str(info.value)
    assert "'a'" in str(info.value)
    assert "'b'" in str(info.value)


def test_decorator_naming_an_unknown_policy_is_a_check_error(settings):
    from django_ratelimit_guard.engine import registry

    registry.referenced_names.add("ghost")
    try:
        assert "ratelimit_guard.E019" in ids(settings.RATELIMIT_GUARD, settings)
    finally:
        registry.referenced_names.discard("ghost")


@pytest.mark.parametrize("prefix", ["", "a{b", "has space", 5])
def test_key_prefix_without_braces_or_whitespace(settings, prefix):
    assert "ratelimit_guard.E015" in ids({**BASE, "KEY_PREFIX": prefix}, settings)


def test_policy_name_must_be_header_safe(settings):
    assert "ratelimit_guard.E017" in ids(
        {**BASE, "POLICIES": {'bad"name': {"rate": "1/m"}}}, settings
    )
