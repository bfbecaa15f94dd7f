"""Counting for the compat layer: the atomic engine or the Django cache.

* On the django-redis cache that is also ``RATELIMIT_GUARD['CACHE_ALIAS']`` every request is one
  EVALSHA of our Lua script (``limiter.decide``, fixed window), so the breaker and fail modes of
  the core apply. The script is given a ceiling of 10⁹ so that it counts *every* request, as
  django-ratelimit does (it counts requests over the limit too, and ``count`` keeps rising); the
  django-ratelimit limit is compared here.
* On any other cache: django-ratelimit's own algorithm, ``cache.add`` then ``cache.incr``, with
  its key format, ``RATELIMIT_CACHE_PREFIX``, ``RATELIMIT_HASH_ALGORITHM`` and per-key window
  jitter.

A cache failure answers as django-ratelimit does: limited, or not limited with
``RATELIMIT_FAIL_OPEN = True``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
import zlib
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django_redis.cache import RedisCache

from django_ratelimit_guard.compat import ALL
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.core.exceptions import StoreError
from django_ratelimit_guard.core.keys import KeySpec
from django_ratelimit_guard.core.policies import FailMode, Policy
from django_ratelimit_guard.core.rates import MAX_LIMIT, Rate
from django_ratelimit_guard.engine import limiter

Usage = dict[str, Any]
EXPIRATION_FUDGE = 5  # seconds added to the Django cache entry's lifetime, as django-ratelimit does
now = time.time  # replaced by tests


def _fail_open() -> bool:
    return bool(getattr(settings, "RATELIMIT_FAIL_OPEN", False))


def _failed() -> Usage | None:
    if _fail_open():
        return None
    return {"count": 0, "limit": 0, "should_limit": True, "time_left": -1}


def _methods_part(methods: Any) -> str | None:
    if methods is None:
        return None
    if methods == ALL:
        return ""
    if isinstance(methods, (list, tuple)):
        return "".join(sorted(m.upper() for m in methods))
    return str(methods)


@functools.lru_cache(maxsize=32)
def is_django_redis(backend: str) -> bool:
    try:
        cls = import_string(backend)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, RedisCache)


def cache_alias() -> str:
    return str(getattr(settings, "RATELIMIT_USE_CACHE", "default"))


def uses_engine(alias: str) -> bool:
    """Whether ``alias`` is counted by the atomic engine (see the module docstring)."""
    backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
    if not isinstance(backend, str) or not is_django_redis(backend):
        return False
    try:
        return guard_settings().cache_alias == alias
    except ImproperlyConfigured:
        # RATELIMIT_GUARD is invalid for this project (reported by its checks when the app is
        # installed); django-ratelimit's own counting still works.
        return False


def usage(
    request: HttpRequest,
    group: str,
    limit: int,
    period: int,
    value: str,
    methods: Any,
    increment: bool,
) -> Usage | None:
    alias = cache_alias()
    if uses_engine(alias):
        return _engine_usage(request, group, limit, period, value, methods, increment)
    return _cache_usage(alias, group, limit, period, value, methods, increment)


def _engine_usage(
    request: HttpRequest,
    group: str,
    limit: int,
    period: int,
    value: str,
    methods: Any,
    increment: bool,
) -> Usage | None:
    suffix = _methods_part(methods)
    name = f"ratelimit:{group}:{limit}/{period}s" + (f":{suffix}" if suffix else "")
    policy = Policy(
        name=name,
        rate=Rate(MAX_LIMIT, period),
        key=KeySpec("django-ratelimit", lambda _request: value),
        algorithm=Algorithm.FIXED_WINDOW,
        fail_mode=FailMode.OPEN if _fail_open() else FailMode.CLOSED,
        block=False,  # the compat layer decides (count > limit), never the engine
        rate_text=f"{limit}/{period}s",
    )
    try:
        result = limiter.decide(request, [policy], count=increment)
    except StoreError:
        return _failed()
    decision = result.decision
    if decision is None:  # RATELIMIT_GUARD['ENABLED'] is False
        return None
    if decision.source in ("open", "closed"):
        return _failed()
    # With cost 1, remaining = ceiling - count after this request (increment) or - (count + 1).
    count = MAX_LIMIT - decision.remaining - (0 if increment else 1)
    return {
        "count": count,
        "limit": limit,
        "should_limit": count > limit,
        "time_left": math.ceil(decision.reset_after),
    }


def _get_window(value: str, period: int) -> int:
    """The end of the current window; windows are offset per key (crc32) so they don't all end
    at once."""
    ts = int(now())
    if period == 1:
        return ts
    w = ts - (ts % period) + (zlib.crc32(value.encode("utf-8")) % period)
    return w + period if w < ts else w


def _make_cache_key(
    group: str, window: int, limit: int, period: int, value: str, methods: Any
) -> str:
    parts = [group, f"{limit}/{period}s", value, str(window)]
    part = _methods_part(methods)
    if part is not None:
        parts.append(part)
    prefix = getattr(settings, "RATELIMIT_CACHE_PREFIX", "rl:")
    algorithm = getattr(settings, "RATELIMIT_HASH_ALGORITHM", hashlib.sha256)
    hasher = import_string(algorithm) if isinstance(algorithm, str) else algorithm
    return str(prefix) + hasher("".join(parts).encode("utf-8")).hexdigest()


def _cache_usage(
    alias: str, group: str, limit: int, period: int, value: str, methods: Any, increment: bool
) -> Usage | None:
    window = _get_window(value, period)
    initial = 1 if increment else 0
    cache = caches[alias]
    cache_key = _make_cache_key(group, window, limit, period, value, methods)
    count: Any = None
    # Any cache error is a counting failure answered by RATELIMIT_FAIL_OPEN; django-ratelimit
    # lets most of them escape as a 500.
    try:
        added = cache.add(cache_key, initial, period + EXPIRATION_FUDGE)
    except Exception:
        added = False
    if added:
        count = initial
    else:
        try:
            count = cache.incr(cache_key) if increment else cache.get(cache_key, initial)
        except Exception:
            count = None
    if count is None or count is False:
        return _failed()
    return {
        "count": count,
        "limit": limit,
        "should_limit": count > limit,
        "time_left": window - int(now()),
    }
