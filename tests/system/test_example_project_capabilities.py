"""The example project shows each issue #15 capability working: exemptions, counting outcomes,
concurrency, runtime overrides (on its embedded fakeredis and on a real Redis), and its own test
suite uses the test helpers through the pytest plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import threading
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
wrong = {"username": "x", "password": "y"}
print("signin", [client.post("/signin/", wrong).status_code for _ in range(6)])
checker = {"HTTP_USER_AGENT": "HealthChecker/1"}
health = [client.get("/api/items/", **checker).status_code for _ in range(15)]
headers = "RateLimit" in client.get("/api/items/", **checker)
print("health", sorted(set(health)), "headers", headers)
results = []
def export():
    results.append(Client().get("/export/?seconds=1").status_code)
threads = [threading.Thread(target=export) for _ in range(2)]
for t in threads:
    t.start()
import time
time.sleep(0.4)
third = Client().get("/export/?seconds=0")
for t in threads:
    t.join()
print("export", sorted(results), third.status_code, third["Retry-After"])
from django_ratelimit_guard.ops import overrides
overrides.add("api", "127.0.0.1", "block", reason="example")
blocked = Client().get("/api/items/")
print("override", blocked.status_code, blocked.wsgi_request.rate_limit.source)
"""


def run(tmp_path: Path, extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "EXAMPLE_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": f"{ROOT}:{ROOT / 'example_project'}",
    }
    env.pop("REDIS_URL", None)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("store", ["embedded", "real redis"])
def test_every_capability_works_in_the_example_project(tmp_path, redis_server, store):
    extra = {}
    if store == "real redis":
        if redis_server.process is None:
            redis_server.start()
        redis_server.flush()
        extra = {"REDIS_URL": redis_server.url}
    done = run(tmp_path, extra, "-c", SCRIPT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "signin [401, 401, 401, 401, 401, 429]" in out
    assert "health [200] headers False" in out
    assert "export [200, 200] 429 1" in out
    assert "override 429 override" in out


def test_the_example_projects_own_tests_use_the_plugin(tmp_path):
    done = run(tmp_path, {}, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
