#!/usr/bin/env bash
# Build the sdist and wheel, check them, install the wheel into a fresh venv outside the source
# tree and smoke-test it against a real redis-server started here on a free port.
# Usage: scripts/smoke_wheel.sh   (PYTHON=python3.x to choose the interpreter)
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rlg-smoke.XXXXXX")"
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== build (sdist + wheel) into $WORK/dist"
"$PYTHON" -m build --outdir "$WORK/dist" "$SRC" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
"$PYTHON" -m twine check --strict "$WORK"/dist/*

WHEEL="$(ls "$WORK"/dist/*.whl)"
SDIST="$(ls "$WORK"/dist/*.tar.gz)"
echo "== contents"
"$PYTHON" - "$WHEEL" "$SDIST" <<'PY'
import sys, tarfile, zipfile
wheel = set(zipfile.ZipFile(sys.argv[1]).namelist())
sdist = {m.name.split("/", 1)[1] for m in tarfile.open(sys.argv[2]).getmembers() if "/" in m.name and m.isfile()}
required = ["django_ratelimit_guard/py.typed", "django_ratelimit_guard/stores/lua/decide.lua"]
for name in required:
    assert name in wheel, f"wheel lacks {name}"
    assert name in sdist, f"sdist lacks {name}"
for prefix in ("templates/", "static/", "migrations/", "contrib/observability/"):
    in_src = [n for n in sdist if n.startswith("django_ratelimit_guard/" + prefix) and not n.endswith("/")]
    in_wheel = [n for n in wheel if n.startswith("django_ratelimit_guard/" + prefix)]
    assert len(in_wheel) >= len([n for n in in_src if not n.endswith((".pyc",))]), (prefix, in_src, in_wheel)
    print(f"  {prefix:24} {len(in_wheel)} file(s) in the wheel")
print("  wheel:", sys.argv[1].rsplit("/", 1)[1])
PY

echo "== fresh venv outside the source tree: $WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$WHEEL" 2> >(grep -v "is ignored: it is neither" >&2)

PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

mkdir -p "$WORK/smoke"
cat >"$WORK/smoke/smoke_settings.py" <<PY
SECRET_KEY = "smoke-test-only"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "smoke_urls"
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django_ratelimit_guard",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_ratelimit_guard.middleware.RateLimitMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:$PORT/0",
                      "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
RATELIMIT_GUARD = {"POLICIES": {"smoke": {"rate": "2/m", "key": "ip"}}}
USE_TZ = True
PY
cat >"$WORK/smoke/smoke_urls.py" <<'PY'
from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

from django_ratelimit_guard import rate_limit


@rate_limit("smoke")
def limited(request):
    return HttpResponse("ok")


urlpatterns = [path("admin/", admin.site.urls), path("limited/", limited)]
PY
cat >"$WORK/smoke/smoke.py" <<'PY'
import os
import sys

os.environ["DJANGO_SETTINGS_MODULE"] = "smoke_settings"
import django

django.setup()
import django_ratelimit_guard
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

here = os.path.dirname(os.path.abspath(__file__))
assert not django_ratelimit_guard.__file__.startswith(os.environ["RLG_SRC"]), django_ratelimit_guard.__file__
print("  installed at", os.path.dirname(django_ratelimit_guard.__file__), django_ratelimit_guard.__version__)
call_command("check", fail_level="ERROR")
client = Client()
codes = [client.get("/limited/").status_code for _ in range(3)]
assert codes == [200, 200, 429], codes
limited = client.get("/limited/")
assert limited["RateLimit-Policy"] == '"smoke";q=2;w=60', limited.headers
assert int(limited["Retry-After"]) >= 1
print("  decorated view limited against redis-server:", codes)

# --- HOOK: admin page (issue 8). Runs as soon as the admin status page is routed. -------------
call_command("migrate", verbosity=0)
try:
    url = reverse("admin:django_ratelimit_guard_status")
except NoReverseMatch:
    print("  admin status page: NOT CHECKED (admin:django_ratelimit_guard_status does not exist in this build)")
    if os.environ.get("RLG_SMOKE_REQUIRE_ADMIN") == "1":
        sys.exit("admin status page required (RLG_SMOKE_REQUIRE_ADMIN=1) but not routed")
else:
    from django.contrib.auth.models import User

    User.objects.create_superuser("smoke", "smoke@example.com", "smoke-password")
    client.force_login(User.objects.get(username="smoke"))
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    print("  admin status page renders:", url)
# --- end of HOOK ---------------------------------------------------------------------------------
print("SMOKE OK")
PY
echo "== smoke test (redis-server on port $PORT)"
cd "$WORK/smoke" && RLG_SRC="$SRC" "$WORK/venv/bin/python" smoke.py
