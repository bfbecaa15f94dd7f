"""``LOCAL_DENIALS`` (issue #14): validated like every setting, and a deploy warning when an
operator's reset could not reach the other processes' remembered denials."""

from __future__ import annotations

import pytest
from django.core import checks

from django_ratelimit_guard.conf.settings import build_settings, guard_settings


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_local_denials_must_be_a_boolean(settings, value):
    _, problems = build_settings({**settings.RATELIMIT_GUARD, "LOCAL_DENIALS": value})
    (problem,) = [p for p in problems if p.id == "ratelimit_guard.E100"]
    assert "RATELIMIT_GUARD['LOCAL_DENIALS']" in problem.msg and "True or False" in problem.msg


def test_local_denials_default_on_and_can_be_turned_off(settings):
    assert guard_settings().local_denials is True
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "LOCAL_DENIALS": False}
    assert guard_settings().local_denials is False


def deploy_ids() -> list[str]:
    return [
        m.id
        for m in checks.run_checks(tags=["ratelimit_guard"], include_deployment_checks=True)
        if m.id
    ]


def test_deploy_check_warns_when_resets_cannot_reach_other_processes(settings, monkeypatch):
    monkeypatch.delenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS")  # conftest turns polling off
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "CONTROL": {"POLL_SECONDS": 0}}
    assert "ratelimit_guard.W100" in deploy_ids()
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "CONTROL": {"POLL_SECONDS": 2}}
    assert "ratelimit_guard.W100" not in deploy_ids()
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "CONTROL": {"POLL_SECONDS": 0},
        "LOCAL_DENIALS": False,
    }
    assert "ratelimit_guard.W100" not in deploy_ids()
