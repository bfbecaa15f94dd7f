"""The example project: read it in two minutes.

Rate limiting runs on a real Redis when REDIS_URL is set (e.g. redis://127.0.0.1:6379/0), and
otherwise on an embedded, in-process fakeredis (with Lua) so the demo needs nothing installed.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_ratelimit_guard",
    "example",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After AuthenticationMiddleware, so policies can key on request.user.
    "django_ratelimit_guard.middleware.RateLimitMiddleware",
]
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
ASGI_APPLICATION = "example.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", BASE_DIR / "db.sqlite3"),
    }
}
STATIC_URL = "static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
_ratelimit_options = {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1}
if not REDIS_URL:
    # Embedded default: django-redis talking to fakeredis in this process.
    from fakeredis import FakeConnection

    _ratelimit_options["CONNECTION_POOL_KWARGS"] = {"connection_class": FakeConnection}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL or "redis://embedded-fakeredis:6379/0",
        "OPTIONS": _ratelimit_options,
    },
}

RATELIMIT_GUARD = {
    "CACHE_ALIAS": "ratelimit",
    "POLICIES": {
        # Logins: 5 POSTs a minute per address; security-critical, so never unlimited.
        "login": {
            "rate": "5/m",
            "key": "ip",
            "methods": ["POST"],
            "fail_mode": "closed",
            "critical": True,
        },
        # The API: a sustained limit per user (or address) and a short burst limit per address,
        # both decided in one Redis round trip by the middleware.
        "api": {
            "rate": "100/m",
            "key": "user_or_ip",
            "paths": ["/api/"],
            # Exemptions (docs/exemptions.md): the office network and the health checker.
            "exempt_ips": ["10.0.0.0/8"],
            "skip_if": "example.limits.is_health_check",
        },
        "api-burst": {
            "rate": "10/s",
            "algorithm": "token_bucket",
            "key": "ip",
            "paths": ["/api/"],
            "skip_if": "example.limits.is_health_check",
        },
        # Counting outcomes (docs/outcomes.md): only failed sign-ins count, 5 a minute.
        "failed-signin": {
            "rate": "5/m",
            "key": "ip",
            "methods": ["POST"],
            "count_when": [401],
            "fail_mode": "closed",
            "critical": True,
        },
        # Concurrency (docs/concurrency.md): two exports in flight per address.
        "exports": {"concurrency": 2, "key": "ip", "concurrency_timeout": 30},
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_ratelimit_guard": {"handlers": ["console"], "level": "INFO"}},
}
