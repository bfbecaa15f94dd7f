"""Configuration problems are reported all at once: system checks and ImproperlyConfigured."""

from __future__ import annotations

from typing import Any

from django.core import checks

from tests.support.builders import ALIAS_ONLY, METRICS_TOKEN, metrics_settings, setting_check_ids


def test_valid_settings_have_no_errors(settings):
    assert [i for i in setting_check_ids(settings.RATELIMIT_GUARD, settings) if ".E" in i] == []


def test_missing_or_slow_socket_timeouts_and_ignore_exceptions_warn(settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_TIMEOUT": 5, "IGNORE_EXCEPTIONS": True},
        },
    }
    found = setting_check_ids(ALIAS_ONLY, settings)
    assert {"ratelimit_guard.W001", "ratelimit_guard.W002", "ratelimit_guard.W003"} <= set(found)


def test_middleware_before_authentication_warns_when_a_policy_keys_on_the_user(settings):
    settings.MIDDLEWARE = [
        "django_ratelimit_guard.middleware.RateLimitMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    found = setting_check_ids(
        {**ALIAS_ONLY, "POLICIES": {"api": {"rate": "5/m", "key": "user", "paths": ["/api/"]}}},
        settings,
    )
    assert "ratelimit_guard.W004" in found


def test_decorator_naming_an_unknown_policy_is_a_check_error(settings):
    from django_ratelimit_guard.engine import registry

    registry.referenced_names.add("ghost")
    try:
        assert "ratelimit_guard.E019" in setting_check_ids(settings.RATELIMIT_GUARD, settings)
    finally:
        registry.referenced_names.discard("ghost")


def _warning_ids() -> list[str]:
    return [
        m.id
        for m in checks.run_checks(tags=["ratelimit_guard"], include_deployment_checks=True)
        if m.id
    ]


def test_deploy_check_warns_when_django_prometheus_export_is_routed(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.support.prometheus_urls"
    assert "ratelimit_guard.W020" in _warning_ids()
    settings.ROOT_URLCONF = "tests.support.api_urls"
    assert "ratelimit_guard.W020" not in _warning_ids()


def test_deploy_check_is_not_run_without_deploy(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.support.prometheus_urls"
    assert "ratelimit_guard.W020" not in [m.id for m in checks.run_checks(tags=["ratelimit_guard"])]


def test_deploy_check_warns_when_our_view_is_routed_wide_open(
    metrics_view: Any, settings: Any
) -> None:
    metrics_settings(settings, ALLOWED_CIDRS=[])
    assert "ratelimit_guard.W021" in _warning_ids()
    metrics_settings(settings, ALLOWED_CIDRS=[], BEARER_TOKEN=METRICS_TOKEN)
    assert "ratelimit_guard.W021" not in _warning_ids()
