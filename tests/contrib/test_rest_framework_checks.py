"""The system check for DRF views limited by PolicyThrottle: every policy they name must exist."""

from __future__ import annotations

import pytest

from tests.contrib.drf_views import POLICIES

pytestmark = pytest.mark.urls("tests.contrib.drf_urls")


def test_system_check_reports_a_view_naming_an_unknown_policy_at_startup(settings):
    from django_ratelimit_guard.contrib.rest_framework_checks import check_drf_policy_names

    settings.RATELIMIT_GUARD = {"CACHE_ALIAS": "ratelimit", "POLICIES": POLICIES}
    messages = check_drf_policy_names()
    assert [m.id for m in messages] == ["ratelimit_guard.E060"]
    assert "'no-such-policy'" in messages[0].msg


def test_system_check_is_quiet_when_every_named_policy_exists(settings):
    from django_ratelimit_guard.contrib.rest_framework_checks import check_drf_policy_names

    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": {**POLICIES, "no-such-policy": {"rate": "1/m"}},
    }
    assert check_drf_policy_names() == []
