"""Settings of the real worker processes (tests/support/fleet/): the test settings, with a database
file every process shares, the Redis the test started, and a short fleet poll interval."""

from __future__ import annotations

import os

from tests.support.settings import *  # noqa: F403
from tests.support.settings import RATELIMIT_GUARD

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["RLG_FLEET_DB"],
        "OPTIONS": {"timeout": 5},
    }
}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("RLG_FLEET_REDIS", "redis://127.0.0.1:1/0"),
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    },
}
ROOT_URLCONF = "tests.support.fleet.urls"
RATELIMIT_GUARD = {
    **RATELIMIT_GUARD,
    "POLICIES": {
        **RATELIMIT_GUARD["POLICIES"],  # type: ignore[dict-item]
        "fleet": {"rate": "1000000/m", "key": "ip", "paths": ["/fleet/"]},
        # A client blocked for the rest of the minute (tests/ops/test_fleet_client_reset.py).
        "tight": {"rate": "2/m", "key": "ip", "paths": ["/tight/"]},
        # One client's budget through an outage (tests/support/fleet/continuity.py).
        "continuity": {
            "rate": os.environ.get("RLG_CONTINUITY_RATE", "100/m"),
            "key": "ip",
            "paths": ["/continuity/"],
            "fail_mode": "memory",
        },
    },
    "CONTROL": {"POLL_SECONDS": float(os.environ.get("RLG_FLEET_POLL", "0.5"))},
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django_ratelimit_guard": {"handlers": ["stderr"], "level": "INFO"}},
}
LOGGING_CONFIG = "logging.config.dictConfig"
