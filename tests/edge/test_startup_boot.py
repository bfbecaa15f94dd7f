"""Every ``@rate_limit`` problem stops a real server at startup, all listed at once (issue #13,
item 1): gunicorn's worker fails to boot, uvicorn refuses to load the application. The project in
``tests/support/broken/`` has three problems in two view modules: two unknown policy names and a
malformed inline rate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = (
    "@rate_limit('logn') names a policy",
    "@rate_limit('sigup') names a policy",
    "tests.support.broken.views_b.search['rate'] is '5/minute'",
)


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="tests.support.broken.settings")
    return env


def serve(*argv: str) -> subprocess.CompletedProcess[str]:
    """Start a server that must exit by itself (a server that boots is killed after 60 s and
    the test fails on its output)."""
    return subprocess.run(
        [sys.executable, "-m", *argv],
        env=server_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gunicorn_worker_fails_to_boot_listing_every_decorator_problem():
    run = serve("gunicorn", "--bind", f"127.0.0.1:{free_port()}", "tests.support.broken.wsgi")
    assert run.returncode != 0
    assert "Worker failed to boot" in run.stderr
    assert "RATELIMIT_GUARD has 3 problems" in run.stderr
    for problem in PROBLEMS:
        assert problem in run.stderr


def test_gunicorn_with_preload_refuses_to_start_listing_every_decorator_problem():
    run = serve(
        "gunicorn", "--preload", "--bind", f"127.0.0.1:{free_port()}", "tests.support.broken.wsgi"
    )
    assert run.returncode != 0
    assert "RATELIMIT_GUARD has 3 problems" in run.stderr


def test_uvicorn_refuses_to_load_the_application_listing_every_decorator_problem():
    run = serve("uvicorn", "--port", str(free_port()), "tests.support.broken.asgi:application")
    assert run.returncode != 0
    assert "RATELIMIT_GUARD has 3 problems" in run.stderr
    for problem in PROBLEMS:
        assert problem in run.stderr


def test_manage_py_check_lists_the_same_problems_as_check_errors():
    run = serve("django", "check")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "System check identified 3 issues" in run.stderr
    assert run.stderr.count("ratelimit_guard.E019") == 2
    assert "ratelimit_guard.E002" in run.stderr


def test_a_decorator_only_project_fails_to_boot_when_its_wsgi_module_validates_the_views():
    run = serve(
        "gunicorn", "--bind", f"127.0.0.1:{free_port()}", "tests.support.broken.wsgi_validated"
    )
    assert run.returncode != 0
    assert "Worker failed to boot" in run.stderr
    for problem in PROBLEMS:
        assert problem in run.stderr
