"""The compat suite runs against three counters: the atomic engine on a real redis-server (the
django-redis cache that is RATELIMIT_GUARD['CACHE_ALIAS']), django-ratelimit's own counting on
the same real redis-server through another django-redis alias, and on LocMemCache."""

from __future__ import annotations

import itertools

import pytest

from tests.support.builders import redis_cache

_locations = itertools.count()
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


@pytest.fixture(params=["engine", "redis-cache", "locmem"])
def backend(request, settings):  # type: ignore[no-untyped-def]
    kind = request.param
    if kind == "locmem":
        location = f"compat-{next(_locations)}"
        settings.CACHES = {
            **settings.CACHES,
            "rl-locmem": {"BACKEND": LOCMEM, "LOCATION": location},
        }
        settings.RATELIMIT_USE_CACHE = "rl-locmem"
        return kind
    server = request.getfixturevalue("redis")
    if kind == "engine":
        settings.RATELIMIT_USE_CACHE = "ratelimit"
    else:
        settings.CACHES = {**settings.CACHES, "rl-redis": redis_cache(server.url)}
        settings.RATELIMIT_USE_CACHE = "rl-redis"
    return kind
