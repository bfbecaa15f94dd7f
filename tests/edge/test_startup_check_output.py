"""A bad RATELIMIT_GUARD under ``manage.py check`` reads like check output; servers still fail at
startup (issue #13, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BAD = """
from tests.support.settings import *  # noqa: F403

RATELIMIT_GUARD = {
    "CACHE_ALIAS": "ratelimit",
    "POLICIES": {
        "login": {"rate": "5/minute", "key": "ip"},
        "api": {"rate": "100/m", "algorithm": "leaky"},
    },
}
"""


@pytest.fixture
def bad_settings(tmp_path):
    (tmp_path / "bad_guard_settings.py").write_text(textwrap.dedent(BAD))
    return tmp_path


def run(bad_settings, *args):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(bad_settings)])
    env["DJANGO_SETTINGS_MODULE"] = "bad_guard_settings"
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_manage_py_check_lists_every_problem_as_check_messages(bad_settings):
    result = run(bad_settings, "-m", "django", "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "SystemCheckError: System check identified some issues" in result.stderr
    assert "ratelimit_guard.E002" in result.stderr  # "5/minute"
    assert "ratelimit_guard.E003" in result.stderr  # "leaky"
    assert "HINT:" in result.stderr
    assert "identified 2 issues" in result.stderr


def test_other_checking_commands_report_the_same_way(bad_settings):
    result = run(bad_settings, "-m", "django", "migrate", "--plan")
    assert "Traceback" not in result.stderr
    assert "ratelimit_guard.E002" in result.stderr


def test_a_wsgi_server_still_fails_at_startup_listing_every_problem(bad_settings):
    result = run(
        bad_settings,
        "-c",
        "from django.core.wsgi import get_wsgi_application; get_wsgi_application()",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr or "ConfigError" in result.stderr
    assert "RATELIMIT_GUARD has 2 problems" in result.stderr


def test_a_command_that_skips_the_checks_still_fails_at_startup(bad_settings):
    result = run(bad_settings, "-m", "django", "check", "--skip-checks")
    assert result.returncode != 0
    assert "RATELIMIT_GUARD has 2 problems" in result.stderr


@pytest.fixture
def clean_registry():
    from django_ratelimit_guard.engine import registry

    saved = list(registry._problems)
    yield registry
    registry.checked()
    registry._problems[:] = saved


def test_decorators_collect_only_until_the_checks_have_reported(clean_registry):
    from django.core import checks

    from django_ratelimit_guard import rate_limit
    from django_ratelimit_guard.core.exceptions import ConfigError

    clean_registry.collect_until_checked()  # what ready() does under a checking command
    rate_limit(rate="5/minute", key="ip")(lambda request: None)  # collected, not raised
    ids = [m.id for m in checks.run_checks(tags=["ratelimit_guard"])]
    assert "ratelimit_guard.E002" in ids
    with pytest.raises(ConfigError):  # after the checks, a bad decorator raises again
        rate_limit(rate="6/minute", key="ip")(lambda request: None)
