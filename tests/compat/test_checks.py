"""The compat layer's system checks (ids in docs/checks.md)."""

from __future__ import annotations

from django_ratelimit_guard.compat.checks import check_compat
from tests.support.builders import redis_cache

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def ids(settings) -> list[str]:
    return [m.id for m in check_compat()]


def test_guard_alias_on_django_redis_is_clean(settings):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    assert ids(settings) == []


def test_missing_caches_is_e061(settings):
    settings.CACHES = {}
    assert ids(settings) == ["ratelimit_guard.E061"]


def test_unknown_use_cache_is_e062(settings):
    settings.RATELIMIT_USE_CACHE = "nope"
    assert ids(settings) == ["ratelimit_guard.E062"]


def test_locmem_is_e063_and_unsupported_w060(settings):
    settings.RATELIMIT_USE_CACHE = "default"  # LocMemCache in tests/settings.py
    assert ids(settings) == ["ratelimit_guard.E063", "ratelimit_guard.W060"]


def test_other_django_redis_alias_is_w061(settings):
    settings.CACHES = {**settings.CACHES, "other": redis_cache("redis://127.0.0.1:1/0")}
    settings.RATELIMIT_USE_CACHE = "other"
    assert ids(settings) == ["ratelimit_guard.W061"]


def test_middleware_without_ratelimit_view_is_e064(settings):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django_ratelimit_guard.compat.middleware.RatelimitMiddleware",
    ]
    assert ids(settings) == ["ratelimit_guard.E064"]


def test_unimportable_exception_class_is_e065(settings):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    settings.RATELIMIT_EXCEPTION_CLASS = "no.such.Exception"
    assert ids(settings) == ["ratelimit_guard.E065"]
