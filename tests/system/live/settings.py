"""A small site for the system tests and bench/chaos.py, run by real gunicorn and uvicorn
processes (``servers.py``): the Quick start's shape, a ``memory`` policy on ``/api/``, a ``closed``
one on ``POST /login/``, signing on ``/signed/``, ``127.0.0.1`` as the trusted proxy.

Environment: ``RLG_LIVE_REDIS`` (the test's own redis-server), ``RLG_LIVE_DB`` (a migrated SQLite
file), ``RLG_LIVE_API_RATE``; breaker tuning through the ``RATELIMIT_GUARD_BREAKER_*`` variables.
"""

import os

SECRET_KEY = "live-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.system.live.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_ratelimit_guard",
]
MIDDLEWARE = [
    "tests.system.live.timing.TimingMiddleware",
    "django_ratelimit_guard.middleware.SignedRequestMiddleware",
    "django_ratelimit_guard.middleware.RateLimitMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("RLG_LIVE_DB", ":memory:"),
    }
}
SOCKET_TIMEOUT = float(os.environ.get("RLG_LIVE_SOCKET_TIMEOUT", "0.1"))
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("RLG_LIVE_REDIS", "redis://127.0.0.1:1/0"),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT, "SOCKET_TIMEOUT": SOCKET_TIMEOUT},
    },
}
SIGNING_KEY_ID = "live"
SIGNING_SECRET = "live-signing-secret-0123456789abcdef-xyz"
RATELIMIT_GUARD = {
    "CACHE_ALIAS": "ratelimit",
    "CONTROL": {"POLL_SECONDS": 0},
    "CLIENT_IP": {"TRUSTED_PROXIES": ["127.0.0.1/32"]},
    "FALLBACK": {"WORKERS": int(os.environ.get("RLG_LIVE_WORKERS", "4"))},
    "SIGNING": {
        "KEYS": {SIGNING_KEY_ID: [SIGNING_SECRET]},
        "PATHS": ["/signed/"],
        "EXEMPT_PATHS": [],
    },
    "POLICIES": {
        "api": {
            "rate": os.environ.get("RLG_LIVE_API_RATE", "100/m"),
            "key": "ip",
            "paths": ["/api/"],
            "fail_mode": "memory",
        },
        "login": {
            "rate": os.environ.get("RLG_LIVE_LOGIN_RATE", "1000/m"),
            "key": "ip",
            "methods": ["POST"],
            "paths": ["/login/"],
            "fail_mode": "closed",
            "critical": True,
        },
    },
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(process)d %(name)s %(levelname)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_ratelimit_guard": {"handlers": ["stderr"], "level": "INFO"},
        "django.request": {"handlers": ["stderr"], "level": "INFO"},
    },
}
