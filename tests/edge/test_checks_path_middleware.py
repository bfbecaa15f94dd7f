"""Policies with ``paths`` and no ``RateLimitMiddleware``: a check warning (issue #13, item 2)."""

from __future__ import annotations

from django.core import checks

MIDDLEWARE = "django_ratelimit_guard.middleware.RateLimitMiddleware"


def messages():
    return [m for m in checks.run_checks(tags=["ratelimit_guard"]) if m.id]


def test_path_policies_without_the_middleware_are_a_warning(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    (warning,) = [m for m in messages() if m.id == "ratelimit_guard.W091"]
    assert warning.level == checks.WARNING
    assert "['api']" in warning.msg  # the test settings' only policy with paths
    assert MIDDLEWARE in warning.hint


def test_the_installed_middleware_silences_the_warning(settings):
    assert MIDDLEWARE in settings.MIDDLEWARE
    assert "ratelimit_guard.W091" not in [m.id for m in messages()]


def test_a_subclass_of_the_middleware_counts_as_installed(settings):
    settings.MIDDLEWARE = [
        "tests.support.middleware_subclass.TenantRateLimitMiddleware" if m == MIDDLEWARE else m
        for m in settings.MIDDLEWARE
    ]
    assert "ratelimit_guard.W091" not in [m.id for m in messages()]


def test_without_path_policies_there_is_nothing_to_warn_about(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"login": {"rate": "3/m", "key": "ip"}},
    }
    assert "ratelimit_guard.W091" not in [m.id for m in messages()]
