"""The app's startup: settings are validated in ready(), every problem at once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_ratelimit_guard.apps import RateLimitGuardConfig
from tests.support.builders import ALIAS_ONLY


def test_app_ready_raises_improperly_configured_listing_every_problem(settings):
    settings.RATELIMIT_GUARD = {
        **ALIAS_ONLY,
        "POLICIES": {"a": {"rate": "5/minute"}, "b": {"rate": "0/m"}},
    }
    import django_ratelimit_guard

    with pytest.raises(ImproperlyConfigured) as info:
        RateLimitGuardConfig("django_ratelimit_guard", django_ratelimit_guard).ready()
    assert "2 problems" in str(info.value)
    assert "'a'" in str(info.value)
    assert "'b'" in str(info.value)
