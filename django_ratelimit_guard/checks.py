"""System checks. Every id is listed in docs/checks.md; ids are never reused.

Configuration errors come from the same validation ``guard_settings()`` runs (``conf.py``);
this module adds what only the surrounding project shows: cache options and middleware order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from django_ratelimit_guard.checks_registry import Problem, error, warning

MIDDLEWARE_PATH = "django_ratelimit_guard.middleware.RateLimitMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
MAX_SOCKET_TIMEOUT = 0.5


def to_message(problem: Problem) -> checks.CheckMessage:
    kind = checks.Error if problem.is_error else checks.Warning
    return kind(problem.msg, hint=problem.hint or None, id=problem.id)


@checks.register("ratelimit_guard")
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django_ratelimit_guard.conf import build_settings

    built, problems = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
    messages = [to_message(p) for p in problems]
    if built is None:
        return messages
    messages += [to_message(p) for p in cache_problems(built.cache_alias)]
    messages += [to_message(p) for p in middleware_problems(built.policies.values())]
    messages += [to_message(p) for p in referenced_policy_problems(built.policies)]
    return messages


def cache_problems(alias: str) -> list[Problem]:
    caches: dict[str, Any] = settings.CACHES
    cache = caches.get(alias, {})
    options: dict[str, Any] = cache.get("OPTIONS") or {}
    problems = []
    where = f"CACHES[{alias!r}]['OPTIONS']"
    for option in ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"):
        value = options.get(option)
        if value is None:
            problems.append(warning(1, f"{where} has no {option}: a frozen Redis would hang every request.",
                                    f"Set {option} to 0.1 (seconds) for the rate-limit cache."))
        elif isinstance(value, (int, float)) and value > MAX_SOCKET_TIMEOUT:
            problems.append(warning(2, f"{where}[{option!r}] is {value} s: every request waits that long while "
                                       "the breaker detects an outage.", "Use 0.1 to 0.5 seconds."))
    if options.get("IGNORE_EXCEPTIONS") or getattr(settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False):
        problems.append(warning(3, f"{where} sets IGNORE_EXCEPTIONS: django-redis would hide Redis outages.",
                                "The limiter uses the raw client and its own breaker; leave IGNORE_EXCEPTIONS off "
                                "for this alias."))
    return problems


def middleware_problems(policies: Any) -> list[Problem]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware or AUTH_MIDDLEWARE not in middleware:
        return []
    if middleware.index(MIDDLEWARE_PATH) > middleware.index(AUTH_MIDDLEWARE):
        return []
    users = sorted(p.name for p in policies if p.key.uses_user and p.paths)
    if not users:
        return []
    return [warning(4, f"RateLimitMiddleware comes before AuthenticationMiddleware, but {users} key on the user: "
                       "request.user does not exist yet there.",
                       "Move RateLimitMiddleware after AuthenticationMiddleware.")]


def referenced_policy_problems(policies: Any) -> list[Problem]:
    from django.urls import get_resolver

    from django_ratelimit_guard import registry

    try:
        _ = get_resolver().url_patterns  # imports the views, so their decorators register names
    except Exception:
        return []
    unknown = sorted(registry.referenced_names - set(policies))
    return [error(19, f"@rate_limit({name!r}) names a policy that RATELIMIT_GUARD['POLICIES'] does not define.",
                  "Add it to POLICIES, or declare it inline: @rate_limit(rate='5/m', ...).") for name in unknown]
