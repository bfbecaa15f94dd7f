"""Settings for bench/e2e.py: the example project, plus bench URLs and policies.

BENCH_GUARD_MIDDLEWARE=0 puts example.bench_floor.FloorMiddleware in RateLimitMiddleware's place
(the no-limiter, floor and django-ratelimit rows).
REDIS_URL must point at the bench's own redis-server.
"""

import os

from example.settings import *  # noqa: F403
from example.settings import MIDDLEWARE, RATELIMIT_GUARD

DEBUG = False
ROOT_URLCONF = "example.bench_urls"
if os.environ.get("BENCH_GUARD_MIDDLEWARE", "1") != "1":
    # No limiter of ours; the floor middleware (one raw EVALSHA, only under /bench/floor/) sits
    # where RateLimitMiddleware would.
    MIDDLEWARE = [
        "example.bench_floor.FloorMiddleware" if m.startswith("django_ratelimit_guard.") else m
        for m in MIDDLEWARE
    ]

_HUGE = "1000000000/h"  # no bench run reaches it: every row measures admitted requests
RATELIMIT_GUARD = {
    **RATELIMIT_GUARD,
    "POLICIES": {
        **RATELIMIT_GUARD["POLICIES"],
        "bench-one": {"rate": _HUGE, "key": "ip", "paths": ["/bench/one/"]},
        "bench-sliding": {"rate": _HUGE, "key": "ip", "paths": ["/bench/three/"]},
        "bench-fixed": {
            "rate": _HUGE,
            "key": "ip",
            "paths": ["/bench/three/"],
            "algorithm": "fixed_window",
        },
        "bench-bucket": {
            "rate": _HUGE,
            "key": "ip",
            "paths": ["/bench/three/"],
            "algorithm": "token_bucket",
        },
        # bench/flood.py: a client (named by a header) blocked for the rest of the hour.
        "bench-flood": {"rate": "10/h", "key": "header:X-Client", "paths": ["/bench/flood/"]},
    },
    # BENCH_LOCAL_DENIALS=0: every request of a blocked client asks Redis (the "before" row).
    "LOCAL_DENIALS": os.environ.get("BENCH_LOCAL_DENIALS", "1") == "1",
}
RATELIMIT_USE_CACHE = "ratelimit"  # django-ratelimit counts in the same Redis
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_ratelimit_guard": {"handlers": ["console"], "level": "INFO"}},
}
