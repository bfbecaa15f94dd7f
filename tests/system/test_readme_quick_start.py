"""The README's Quick start runs (issue #13, item 14).

Every code block of the Quick start section is applied, as it stands, to a project that
``django-admin startproject`` creates in a temporary directory: the ``sh`` blocks are run line by
line, each ``python`` block goes to the file its first comment names (``# mysite/settings.py: add
at the end``, ``# mysite/views.py: a new file``, ``# mysite/urls.py: replace its contents``). The
only changes: the Redis address becomes a redis-server this test starts (never the 6379 of the
README), ``pip install`` is not run (this environment has the package; the extra it names is
checked), ``createsuperuser`` gets ``--noinput`` and its answers from the environment, and
``runserver`` gets a free port. Then a real ``runserver`` process is driven over HTTP: 200s, the
429 with its header fields, the status page (logged in), the metrics URL. If the README drifts —
a block that no longer runs, a URL that moved — this test fails.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.redis_servers import RedisServer, free_port

README = Path(__file__).resolve().parents[2] / "README.md"
README_REDIS = "redis://127.0.0.1:6379/1"
CSRF = "q" * 32  # a valid unmasked CSRF secret, sent as the cookie and the header
ADMIN = {"username": "ops", "password": "a-long-test-password-17", "email": "ops@example.com"}


def quick_start() -> list[tuple[str, str]]:
    text = README.read_text()
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def target(block: str) -> tuple[str, str]:
    """The file a python block goes to, and how: ``append``, ``create`` or ``replace``."""
    first = block.splitlines()[0]
    match = re.fullmatch(r"# (\S+\.py): (add at the end|a new file|replace its contents)", first)
    assert match, f"a Quick start python block must start by naming its file: {first!r}"
    how = {"add at the end": "append", "a new file": "create", "replace its contents": "replace"}
    return match.group(1), how[match.group(2)]


class Project:
    def __init__(self, root: Path, redis_url: str) -> None:
        self.root = root
        self.cwd = root
        self.redis_url = redis_url
        self.env = {
            k: v
            for k, v in os.environ.items()
            # The project's own manage.py names its settings; the real fleet poller runs.
            if k not in ("DJANGO_SETTINGS_MODULE", "RATELIMIT_GUARD_CONTROL_POLL_SECONDS")
        }
        self.env["PYTHONWARNINGS"] = "error"
        self.server: subprocess.Popen[bytes] | None = None
        self.port = 0

    def run(self, line: str) -> None:
        words = shlex.split(line.split("#", 1)[0])
        if not words:
            return
        if words[:2] == ["pip", "install"]:
            assert "[prometheus]" in line, "the Quick start must install the prometheus extra"
            return
        if words[0] == "cd":
            self.cwd = self.cwd / words[1]
            return
        if words[0] == "django-admin":
            words = [sys.executable, "-m", "django", *words[1:]]
        elif words[:2] == ["python", "manage.py"]:
            words = [sys.executable, *words[1:]]
        else:
            raise AssertionError(f"the Quick start runs a command this test does not know: {line}")
        if words[2:3] == ["createsuperuser"]:
            words.append("--noinput")
            env = {**self.env, **{f"DJANGO_SUPERUSER_{k.upper()}": v for k, v in ADMIN.items()}}
        elif words[2:3] == ["runserver"]:
            self.start_server([*words, "--noreload", f"127.0.0.1:{free_port()}"])
            return
        else:
            env = self.env
        done = subprocess.run(
            words, cwd=self.cwd, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"

    def apply(self, block: str) -> None:
        path, how = target(block)
        if how == "append":
            assert README_REDIS in block
            block = block.replace(README_REDIS, self.redis_url)
        file = self.cwd / path
        assert file.exists() == (how != "create"), f"{path}: {how}"
        if how == "append":
            file.write_text(file.read_text() + "\n" + block)
        else:
            file.write_text(block)

    def start_server(self, command: list[str]) -> None:
        self.port = int(command[-1].rsplit(":", 1)[1])
        self.log = (self.root / "runserver.log").open("wb")
        self.server = subprocess.Popen(
            command, cwd=self.cwd, env=self.env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url("/admin/login/"), timeout=2)
                return
            except requests.ConnectionError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(self.server_log()) from None
                time.sleep(0.2)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def server_log(self) -> str:
        self.log.flush()
        return (self.root / "runserver.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(5)
            self.log.close()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    redis = RedisServer().start()
    built = Project(tmp_path, redis.url)
    try:
        for language, block in quick_start():
            if language == "sh":
                for line in block.splitlines():
                    built.run(line)
            elif language == "python":
                built.apply(block)
        assert built.server is not None, "the Quick start must end by running the server"
        yield built
    finally:
        built.stop()
        redis.close()


def test_the_quick_start_project_limits_reports_and_exposes_its_metrics(project):
    session = requests.Session()
    session.cookies.set("csrftoken", CSRF)
    post = {"headers": {"X-CSRFToken": CSRF}, "timeout": 10}

    for attempt in range(5):
        response = session.post(project.url("/login/"), **post)
        assert response.status_code == 200, (attempt, response.text, project.server_log())
        assert response.headers["RateLimit-Policy"] == '"login";q=5;w=60'
    sixth = session.post(project.url("/login/"), **post)
    assert sixth.status_code == 429
    wait = int(sixth.headers["Retry-After"])
    assert sixth.headers["RateLimit"] == f'"login";r=0;t={wait}'
    assert sixth.text == "Too many requests.\n"

    for _ in range(3):
        assert session.get(project.url("/report/"), timeout=10).status_code == 200
    report = session.get(project.url("/report/"), timeout=10)
    assert report.status_code == 429
    assert report.headers["RateLimit-Policy"] == '"report";q=3;w=10'  # no module path

    transfer = session.get(project.url("/transfer/"), timeout=10)
    assert transfer.status_code == 200
    assert transfer.headers["RateLimit-Policy"] == '"burst";q=20;w=1'
    items = session.get(project.url("/api/items/"), timeout=10)
    assert items.json() == {"items": []}
    assert items.headers["RateLimit-Policy"] == '"api";q=100;w=60'

    status_url = "/admin/django_ratelimit_guard/status/"
    assert f"http://127.0.0.1:8000{status_url}" in README.read_text()
    logged_out = session.get(project.url(status_url), timeout=10, allow_redirects=False)
    assert logged_out.status_code == 302
    login_page = session.get(project.url("/admin/login/"), timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
    assert token, login_page.text
    session.post(
        project.url(f"/admin/login/?next={status_url}"),
        data={**ADMIN, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": project.url("/admin/login/")},
        timeout=10,
    )
    page = session.get(project.url(status_url), timeout=10)
    assert page.status_code == 200, page.text
    assert "login" in page.text
    assert "5/m" in page.text

    assert "http://127.0.0.1:8000/metrics" in README.read_text()
    metrics = requests.get(project.url("/metrics"), timeout=10)
    assert metrics.status_code == 200
    assert (
        'ratelimit_guard_decisions_total{outcome="limited",policy="login",source="redis"} 1.0'
        in metrics.text
    )

    log = project.server_log()
    assert "could not be read from the database" not in log  # migrate was run
    assert "Traceback" not in log
