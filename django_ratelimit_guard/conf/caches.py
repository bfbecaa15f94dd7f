"""``CACHE_ALIAS``: whether it names a django-redis cache, and what to do when it does not (the
aliases that would work, the closest name to a typo, and whether the alias was only defaulted)."""

from __future__ import annotations

import difflib

from django.conf import settings
from django.utils.module_loading import import_string
from django_redis.cache import RedisCache

from django_ratelimit_guard.core.problems import Problem, error

REDIS_BACKEND = "django_redis.cache.RedisCache"


def cache_alias_problems(alias: object, *, explicit: bool = True) -> list[Problem]:
    """Whether ``CACHE_ALIAS`` names a django-redis cache. ``explicit`` is false when
    ``CACHE_ALIAS`` was not set and defaulted to ``"default"``: the messages say so."""
    if not isinstance(alias, str) or not alias:
        return [
            error(
                6,
                f"RATELIMIT_GUARD['CACHE_ALIAS'] is {alias!r}: "
                "expected the name of a cache in CACHES.",
                _redis_aliases_hint(),
            )
        ]
    caches = getattr(settings, "CACHES", {})
    where = (
        f"RATELIMIT_GUARD['CACHE_ALIAS'] is {alias!r}"
        if explicit
        else f"RATELIMIT_GUARD['CACHE_ALIAS'] is not set, so it defaulted to {alias!r}"
    )
    if alias not in caches:
        close = difflib.get_close_matches(alias, [str(a) for a in caches], n=1)
        known = ", ".join(repr(a) for a in caches) or "none"
        return [
            error(
                6,
                f"{where}, which is not in CACHES (the caches defined: {known}).",
                (f"Did you mean {close[0]!r}? " if close else "")
                + _redis_aliases_hint(f"or add CACHES[{alias!r}] with BACKEND {REDIS_BACKEND!r}"),
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if is_redis_backend(backend):
        return []
    return [
        error(
            7,
            f"{where}, and CACHES[{alias!r}] uses {backend!r}, not django-redis: the limiter "
            "needs Redis to run its Lua scripts atomically.",
            _redis_aliases_hint(f"or set CACHES[{alias!r}]['BACKEND'] to {REDIS_BACKEND!r}"),
        )
    ]


def is_redis_backend(backend: object) -> bool:
    if backend == REDIS_BACKEND:
        return True
    try:
        return isinstance(backend, str) and issubclass(import_string(backend), RedisCache)
    except ImportError:
        return False


def _redis_aliases_hint(otherwise: str = "") -> str:
    caches = getattr(settings, "CACHES", {})
    redis = [repr(a) for a, c in caches.items() if is_redis_backend(c.get("BACKEND", ""))]
    if redis:
        text = f"Set RATELIMIT_GUARD['CACHE_ALIAS'] to a django-redis cache: {', '.join(redis)}"
    else:
        text = "CACHES has no django-redis cache: add one and name it in CACHE_ALIAS"
    return f"{text}{', ' + otherwise if otherwise and redis else ''}."


__all__ = ["REDIS_BACKEND", "cache_alias_problems", "is_redis_backend"]
