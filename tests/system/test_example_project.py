"""The example project runs on its embedded fakeredis, and on a real Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
codes = [client.get("/api/items/").status_code for _ in range(30)]
print("api", codes[:10].count(200), codes.count(200), codes.count(429))
form = {"username": "x", "password": "y"}
print("login", [client.post("/login/", form).status_code for _ in range(6)])
print("report", [client.get("/report/").status_code for _ in range(4)])
"""


def run_example(tmp_path: Path, extra_env: dict[str, str]) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example.settings",
        "EXAMPLE_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": f"{ROOT}:{ROOT / 'example_project'}",
    }
    env.pop("REDIS_URL", None)
    env.update(extra_env)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT / "example_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_example_project_limits_on_the_embedded_default(tmp_path):
    out = run_example(tmp_path, {})
    # The 10/s token bucket admits the first 10 of a burst, then refills one token per 100 ms:
    # however slow this machine is, 30 back-to-back requests cannot all pass.
    api = next(line for line in out.splitlines() if line.startswith("api "))
    first_ten, admitted, rejected = map(int, api.split()[1:])
    assert first_ten == 10
    assert rejected >= 1
    assert admitted + rejected == 30
    assert "login [200, 200, 200, 200, 200, 429]" in out
    assert "report [200, 200, 200, 429]" in out


def test_example_project_counts_in_a_real_redis_when_redis_url_is_set(tmp_path, redis_server):
    redis_server.flush()
    out = run_example(tmp_path, {"REDIS_URL": redis_server.url})
    assert "login [200, 200, 200, 200, 200, 429]" in out
    keys = redis_server.client().keys("rlg:*")
    assert any(k.endswith(b":login:sw") for k in keys)
