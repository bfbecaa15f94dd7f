#!/usr/bin/env python3
"""Run django-ratelimit's own test suite, unchanged, against django_ratelimit_guard.compat.

The drop-in promise (docs/migrating.md): a project that swaps ``django_ratelimit`` for
``django_ratelimit_guard.compat`` in its imports changes nothing else. Upstream's suite is that
project. This script needs a copy of upstream's repository (nothing of it is in this repository:
it is neither vendored nor committed), for example the one the project's search tool fetches::

    python scripts/upstream_django_ratelimit.py /path/to/django-ratelimit   # a checkout or git dir

It then, in a temporary directory outside the repository:

1. takes upstream's ``django_ratelimit/tests.py`` and ``test_settings.py`` from that copy
   (``git archive`` of HEAD for a git directory, or the files of a checkout), unchanged;
2. lays a ``django_ratelimit`` shim package beside them whose modules re-export
   ``django_ratelimit_guard.compat`` — what a user swapping the import does, done once for every
   import of upstream's suite (its settings install the app ``django_ratelimit``);
3. runs ``python -m django test django_ratelimit`` as upstream's ``run.sh`` does (its warnings
   flags included), first with upstream's own settings (the LocMem cache), then with those
   settings and one change: the ``default`` cache is django-redis on a redis-server this script
   starts on a free port (and stops), also the guard's ``CACHE_ALIAS``, so the compat layer
   counts through the Lua engine.

Exit status 0 when both runs pass. Not part of the CI suite: CI has no network to fetch upstream
(tests/compat/test_checks_upstream_ids.py covers the check-id aliases offline).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

UPSTREAM_FILES = ("django_ratelimit/tests.py", "test_settings.py")

#: The one documented difference (docs/migrating.md): upstream raises on each request.
KNOWN_DIFFERENCES = {
    "django_ratelimit.tests.RatelimitTests.test_no_key": (
        "a static rate without a key raises ImproperlyConfigured when the decorator is "
        "applied, not when the view is called"
    ),
}
FAILURE = re.compile(r"^(?:ERROR|FAIL): \w+ \(([\w.]+)\)", re.M)
RAN = re.compile(r"^Ran (\d+) tests?", re.M)

SHIM = {
    "__init__.py": "from django_ratelimit_guard.compat import ALL, UNSAFE, VERSION, __version__\n",
    "apps.py": (
        "from django_ratelimit_guard.compat.apps import RatelimitCompatConfig\n\n\n"
        "class DjangoRatelimitConfig(RatelimitCompatConfig):\n"
        "    name = 'django_ratelimit'\n"
        "    label = 'ratelimit'\n"
        "    default = True\n"
    ),
    "core.py": "from django_ratelimit_guard.compat.core import *  # noqa: F403\n"
    "from django_ratelimit_guard.compat.core import _get_ip, _split_rate  # noqa: F401\n",
    "decorators.py": "from django_ratelimit_guard.compat.decorators import *  # noqa: F403\n",
    "exceptions.py": "from django_ratelimit_guard.compat.exceptions import *  # noqa: F403\n",
    "middleware.py": "from django_ratelimit_guard.compat.middleware import *  # noqa: F403\n",
}

REDIS_SETTINGS = """\
from test_settings import *  # noqa: F403  (upstream's own settings, unchanged)
from test_settings import CACHES

CACHES = {{
    **CACHES,
    "default": {{
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:{port}/0",
        "OPTIONS": {{"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}},
    }},
}}
RATELIMIT_GUARD = {{"CACHE_ALIAS": "default"}}
"""


def upstream_files(source: Path) -> dict[str, bytes]:
    if (source / "django_ratelimit" / "tests.py").is_file():  # a checkout
        return {name: (source / name).read_bytes() for name in UPSTREAM_FILES}
    archive = subprocess.run(
        ["git", "--git-dir", str(source), "archive", "HEAD", *UPSTREAM_FILES],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {name: tar.extractfile(name).read() for name in UPSTREAM_FILES}  # type: ignore[union-attr]


def lay_out(directory: Path, files: dict[str, bytes]) -> None:
    package = directory / "django_ratelimit"
    package.mkdir()
    for name, text in SHIM.items():
        (package / name).write_text(text)
    for name, data in files.items():
        (directory / name).write_bytes(data)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.05)
    server.kill()
    sys.exit("redis-server did not start")


def evalsha_calls(port: int) -> int:
    """How many times the compat layer ran the engine's Lua script (the proof it was used)."""
    import redis  # noqa: PLC0415  (the script's only third-party import; django-redis brings it)

    stats = redis.Redis(port=port).info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


def run_suite(directory: Path, settings: str, label: str) -> bool:
    """Run upstream's suite; True when nothing but the known differences failed."""
    env = {**os.environ, "PYTHONPATH": str(directory), "DJANGO_SETTINGS_MODULE": settings}
    command = [
        sys.executable,
        *("-W", "error::ResourceWarning", "-W", "error::DeprecationWarning"),
        *("-W", "error::PendingDeprecationWarning"),
        *("-m", "django", "test", "django_ratelimit", "-v", "2"),
    ]
    print(f"== upstream django-ratelimit suite on compat, {label} ==", flush=True)
    result = subprocess.run(
        command, cwd=directory, env=env, check=False, capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    print(output, flush=True)
    failed = set(FAILURE.findall(output))
    ran = RAN.search(output)
    total = int(ran.group(1)) if ran else 0
    unexpected = sorted(failed - set(KNOWN_DIFFERENCES))
    for test in sorted(failed & set(KNOWN_DIFFERENCES)):
        print(f"   known difference: {test}: {KNOWN_DIFFERENCES[test]}")
    for test in unexpected:
        print(f"   UNEXPECTED FAILURE: {test}")
    ok = total > 0 and not unexpected and (result.returncode == 0 or failed)
    print(
        f"== {label}: {total - len(failed)} passed, {len(failed)} failed "
        f"({len(failed) - len(unexpected)} known difference(s)): {'OK' if ok else 'FAILED'} ==",
        flush=True,
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream", type=Path, help="django-ratelimit's checkout or git directory")
    args = parser.parse_args()
    files = upstream_files(args.upstream.resolve())
    with tempfile.TemporaryDirectory(prefix="rlg-upstream-") as tmp:
        directory = Path(tmp)
        lay_out(directory, files)
        ok = run_suite(directory, "test_settings", "LocMem (upstream's settings, unchanged)")
        server, port = start_redis(directory)
        try:
            (directory / "redis_settings.py").write_text(REDIS_SETTINGS.format(port=port))
            ok = run_suite(directory, "redis_settings", "django-redis (the Lua engine)") and ok
            print(f"   EVALSHA calls on the test redis-server: {evalsha_calls(port)}")
        finally:
            server.terminate()
            server.wait(10)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
