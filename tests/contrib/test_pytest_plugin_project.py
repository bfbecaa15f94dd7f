"""The pytest plugin (issue #15), as a user's suite meets it: a tiny Django project in a temporary
directory, run by pytest in a subprocess, finds ``ratelimit_reset`` and ``ratelimit_disabled``
through the ``pytest11`` entry point alone, and ``override_policies`` works as a context manager
and as a decorator of sync and async tests. A project without Django is not affected."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from django_ratelimit_guard import testing

SETTINGS = """
import os
SECRET_KEY = "user-project"
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "userproj.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_ratelimit_guard"]
MIDDLEWARE = ["django_ratelimit_guard.middleware.RateLimitMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["USER_REDIS_URL"],
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    },
}
RATELIMIT_GUARD = {
    "CACHE_ALIAS": "ratelimit",
    "CONTROL": {"POLL_SECONDS": 0},
    "POLICIES": {"search": {"rate": "2/m", "key": "ip"}},
}
"""

URLS = """
from django.http import HttpResponse
from django.urls import path
from django_ratelimit_guard import rate_limit

@rate_limit("search")
def search(request):
    return HttpResponse("results")

@rate_limit("search")
async def asearch(request):
    return HttpResponse("results")

urlpatterns = [path("search/", search), path("asearch/", asearch)]
"""

TESTS = """
import pytest
from django_ratelimit_guard.testing import override_policies

def statuses(client, n, path="/search/"):
    return [client.get(path).status_code for _ in range(n)]

def test_the_limit_applies(client, ratelimit_reset):
    assert statuses(client, 3) == [200, 200, 429]

def test_the_next_test_starts_from_zero(client, ratelimit_reset):
    assert statuses(client, 3) == [200, 200, 429]

def test_nothing_is_enforced_when_disabled(client, ratelimit_reset, ratelimit_disabled):
    assert statuses(client, 10) == [200] * 10

def test_override_as_a_context_manager(client, ratelimit_reset):
    with override_policies(search={"rate": "4/m", "key": "ip"}):
        assert statuses(client, 5) == [200] * 4 + [429]

@override_policies(search={"rate": "1/m", "key": "ip"})
def test_override_as_a_decorator(client, ratelimit_reset):
    assert statuses(client, 2) == [200, 429]

@override_policies({"search": {"rate": "3/m", "key": "ip"}})
async def test_override_decorates_async_tests(async_client, ratelimit_reset):
    codes = [(await async_client.get("/asearch/")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
"""


def run_pytest(where: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


def test_a_user_project_gets_the_fixtures_from_the_entry_point(tmp_path, redis_server):
    if redis_server.process is None:
        redis_server.start()
    redis_server.flush()
    (tmp_path / "userproj").mkdir()
    (tmp_path / "userproj" / "__init__.py").write_text("")
    (tmp_path / "userproj" / "settings.py").write_text(SETTINGS)
    (tmp_path / "userproj" / "urls.py").write_text(textwrap.dedent(URLS))
    (tmp_path / "test_user.py").write_text(textwrap.dedent(TESTS))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nDJANGO_SETTINGS_MODULE = userproj.settings\npythonpath = .\n"
        "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    result = run_pytest(tmp_path, clean_env(USER_REDIS_URL=redis_server.url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout


def test_a_project_without_django_is_not_affected(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    (tmp_path / "test_asks.py").write_text("def test_asks(ratelimit_disabled):\n    pass\n")
    env = clean_env()
    plain = run_pytest(tmp_path, env, "-p", "no:django", "test_plain.py")
    assert plain.returncode == 0 and "1 passed" in plain.stdout, plain.stdout + plain.stderr
    asks = run_pytest(tmp_path, env, "-p", "no:django", "test_asks.py")
    assert asks.returncode == 1
    assert "need Django settings" in asks.stdout, asks.stdout


def test_reset_counters_deletes_only_our_prefix(settings, redis):
    raw = redis.client()
    raw.set("someone-else:key", "1")
    raw.set("rlgx:not-ours", "1")
    raw.set("rlg:{abc}:api:sw", "1")
    raw.set("rlg:{def}:top:1", "1")
    assert testing.reset_counters() == 2
    assert sorted(raw.keys()) == [b"rlgx:not-ours", b"someone-else:key"]


@pytest.mark.django_db
def test_reset_counters_clears_the_memory_fallback_too(redis):
    from django.test import RequestFactory

    from django_ratelimit_guard import check
    from django_ratelimit_guard.stores.fallback import fallback_store

    request = RequestFactory().post("/login/", REMOTE_ADDR="203.0.113.5")
    redis.stop()
    try:
        assert check(request, "login").source == "closed"
        check(request, "api")
        assert fallback_store().entries >= 1
    finally:
        redis.start()
    testing.reset_counters()
    assert fallback_store().entries == 0
