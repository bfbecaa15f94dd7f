"""Policy validation: each problem of a policy dict is reported with its id."""

from __future__ import annotations

from tests.support.builders import ALIAS_ONLY, setting_check_ids


def test_critical_policy_may_not_inherit_open_fail_mode(settings):
    found = setting_check_ids(
        {
            **ALIAS_ONLY,
            "DEFAULT_FAIL_MODE": "open",
            "POLICIES": {"otp": {"rate": "3/m", "critical": True}},
        },
        settings,
    )
    assert "ratelimit_guard.E009" in found


def test_policy_name_must_be_header_safe(settings):
    assert "ratelimit_guard.E017" in setting_check_ids(
        {**ALIAS_ONLY, "POLICIES": {'bad"name': {"rate": "1/m"}}}, settings
    )
