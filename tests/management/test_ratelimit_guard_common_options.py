"""Django's common options work after a ``ratelimit_guard`` subcommand (issue #13, item 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django_ratelimit_guard.management.commands.ratelimit_guard import Command

ROOT = Path(__file__).resolve().parents[2]


def test_settings_after_the_subcommand_is_accepted_from_a_shell(redis_server):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    # tests.support.settings points the rate-limit cache at an unreachable port: the command answers
    # "degraded" (exit 1) with the whole status, instead of a usage error (exit 2).
    run = subprocess.run(
        [
            *(sys.executable, "-m", "django", "ratelimit_guard", "status", "--json"),
            *("--settings", "tests.support.settings", "-v", "0", "--traceback"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "unrecognized arguments" not in run.stderr
    assert run.returncode == 1, run.stderr
    assert json.loads(run.stdout)["pid"] > 0


def parse(*argv):
    return Command().create_parser("manage.py", "ratelimit_guard").parse_args(list(argv))


def test_common_options_after_the_subcommand_reach_the_command():
    options = parse("reset-key", "login", "203.0.113.1", "-v", "2", "--settings", "mysite.x")
    assert (options.verbosity, options.settings) == (2, "mysite.x")
    assert parse("status", "--json", "--traceback", "--no-color").traceback is True


def test_options_before_the_subcommand_are_not_overwritten_when_absent_after_it():
    options = parse("-v", "3", "--settings", "mysite.y", "status")
    assert (options.verbosity, options.settings) == (3, "mysite.y")
    assert parse("status").verbosity == 1  # Django's default
