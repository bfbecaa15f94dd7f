"""System checks of the compat layer: django-ratelimit's own cache checks (under our ids) plus
what a drop-in adds. Ids are listed in docs/checks.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from django_ratelimit_guard.compat.counting import cache_alias, is_django_redis, uses_engine
from django_ratelimit_guard.compat.middleware import ratelimit_view

SUPPORTED_CACHE_BACKENDS = [
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django_redis.cache.RedisCache",
]
KNOWN_BROKEN_CACHE_BACKENDS = {
    "django.core.cache.backends.dummy.DummyCache": "is not a real cache",
    "django.core.cache.backends.locmem.LocMemCache": "is not a shared cache",
    "django.core.cache.backends.filebased.FileBasedCache": "does not support atomic increment",
    "django.core.cache.backends.db.DatabaseCache": "does not support atomic increment",
}
MIDDLEWARE_PATH = "django_ratelimit_guard.compat.middleware.RatelimitMiddleware"
#: django-ratelimit's ids of the same checks: a project that swaps the import keeps its
#: SILENCED_SYSTEM_CHECKS, so either id silences ours.
UPSTREAM_IDS = {
    "ratelimit_guard.E061": "django_ratelimit.E001",
    "ratelimit_guard.E062": "django_ratelimit.E002",
    "ratelimit_guard.E063": "django_ratelimit.E003",
    "ratelimit_guard.W060": "django_ratelimit.W001",
}


@checks.register(checks.Tags.caches, "ratelimit_guard")
def check_compat(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    silenced = set(getattr(settings, "SILENCED_SYSTEM_CHECKS", ()))
    return [
        m
        for m in cache_messages() + setting_messages()
        if UPSTREAM_IDS.get(str(m.id)) not in silenced
    ]


def _upstream(check_id: str) -> str:
    return f" (django-ratelimit's {UPSTREAM_IDS[check_id]}: either id silences it)"


def _usable_aliases(caches: dict[str, Any]) -> list[str]:
    return [
        repr(alias)
        for alias, config in caches.items()
        if config.get("BACKEND") in SUPPORTED_CACHE_BACKENDS
        or is_django_redis(str(config.get("BACKEND", "")))
    ]


def _broken_backend(
    alias: str, backend: str, reason: str, caches: dict[str, Any]
) -> checks.CheckMessage:
    """E063 (django-ratelimit's E003): the hint names the aliases that would work."""
    usable = _usable_aliases(caches)
    where = (
        "RATELIMIT_USE_CACHE"
        if hasattr(settings, "RATELIMIT_USE_CACHE")
        else "RATELIMIT_USE_CACHE (not set, so 'default')"
    )
    hint = (
        f"Set RATELIMIT_USE_CACHE to {' or '.join(usable)}, which would work"
        if usable
        else "Add a django-redis (counted atomically by the Lua engine) or memcached cache to "
        "CACHES and set RATELIMIT_USE_CACHE to its alias"
    )
    return checks.Error(
        f"{where} is {alias!r}: the cache backend {backend} {reason}.",
        hint=hint + "." + _upstream("ratelimit_guard.E063"),
        id="ratelimit_guard.E063",
    )


def cache_messages() -> list[checks.CheckMessage]:
    alias = cache_alias()
    caches = getattr(settings, "CACHES", None)
    if not caches:
        return [
            checks.Error(
                "CACHES is not defined: the django-ratelimit compat layer will not work.",
                hint="Configure a default cache using Redis (django-redis) or memcached."
                + _upstream("ratelimit_guard.E061"),
                id="ratelimit_guard.E061",
            )
        ]
    if alias not in caches:
        return [
            checks.Error(
                f"RATELIMIT_USE_CACHE is {alias!r}, which is not in CACHES.",
                hint="RATELIMIT_USE_CACHE must name a cache in CACHES"
                + (
                    f", e.g. {', '.join(_usable_aliases(caches))}"
                    if _usable_aliases(caches)
                    else ""
                )
                + "."
                + _upstream("ratelimit_guard.E062"),
                id="ratelimit_guard.E062",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    messages: list[checks.CheckMessage] = []
    reason = KNOWN_BROKEN_CACHE_BACKENDS.get(backend)
    if reason is not None:
        messages.append(_broken_backend(alias, str(backend), reason, caches))
    if backend not in SUPPORTED_CACHE_BACKENDS and not is_django_redis(str(backend)):
        messages.append(
            checks.Warning(
                f"The cache backend {backend} is not officially supported "
                "by the django-ratelimit compat layer.",
                hint="Use django-redis or memcached." + _upstream("ratelimit_guard.W060"),
                id="ratelimit_guard.W060",
            )
        )
    if is_django_redis(str(backend)) and not uses_engine(alias):
        messages.append(
            checks.Warning(
                f"RATELIMIT_USE_CACHE {alias!r} is a django-redis cache but not "
                "RATELIMIT_GUARD['CACHE_ALIAS']: the compat layer counts there with "
                "cache.add/cache.incr, without the atomic engine or the circuit breaker.",
                hint=f"Set RATELIMIT_GUARD = {{'CACHE_ALIAS': {alias!r}}} "
                "(and fix any RATELIMIT_GUARD error).",
                id="ratelimit_guard.W061",
            )
        )
    return messages


def setting_messages() -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    if MIDDLEWARE_PATH in (getattr(settings, "MIDDLEWARE", None) or []):
        try:
            ratelimit_view()
        except ImproperlyConfigured as exc:
            messages.append(
                checks.Error(
                    str(exc),
                    hint="Set RATELIMIT_VIEW = 'myapp.views.ratelimited'.",
                    id="ratelimit_guard.E064",
                )
            )
    cls = getattr(settings, "RATELIMIT_EXCEPTION_CLASS", None)
    if isinstance(cls, str):
        try:
            import_string(cls)
        except ImportError as exc:
            messages.append(
                checks.Error(
                    f"RATELIMIT_EXCEPTION_CLASS {cls!r} could not be imported: {exc}",
                    id="ratelimit_guard.E065",
                )
            )
    return messages
