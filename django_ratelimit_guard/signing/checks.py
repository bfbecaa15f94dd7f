"""Checks for request signing; every id is listed in docs/checks.md.

Bad ``SIGNING`` values themselves (E020-E024) come from ``conf``; this module adds what only the
surrounding project shows: the middleware is installed without keys (E025), and it runs after a
rate limiter that keys on its result (E026).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from django_ratelimit_guard.conf.sections import GuardSettings
from django_ratelimit_guard.conf.settings import build_settings, guard_settings
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.core.problems import Problem, error, to_message

SIGNED_MIDDLEWARE = (
    "django_ratelimit_guard.middleware.SignedRequestMiddleware",
    "django_ratelimit_guard.signing.middleware.SignedRequestMiddleware",
)
RATE_LIMIT_MIDDLEWARE = "django_ratelimit_guard.middleware.RateLimitMiddleware"


def _middleware() -> list[str]:
    return [str(m) for m in (getattr(settings, "MIDDLEWARE", None) or [])]


def signing_middleware_index() -> int | None:
    middleware = _middleware()
    for index, path in enumerate(middleware):
        if path in SIGNED_MIDDLEWARE:
            return index
    return None


def signing_problems(config: GuardSettings, *, installed: bool) -> list[Problem]:
    """Problems of a valid ``GuardSettings`` that only matter once the middleware is in use."""
    if not installed:
        return []
    problems = []
    if not config.signing.keys:
        problems.append(
            error(
                25,
                "SignedRequestMiddleware is installed but "
                "RATELIMIT_GUARD['SIGNING']['KEYS'] is empty: "
                "every request to the signed paths would be refused.",
                "Add {'<key id>': ['<secret of at least 32 bytes>']} to SIGNING['KEYS'] (read the "
                "secrets from the environment), or remove the middleware.",
            )
        )
    index = signing_middleware_index()
    middleware = _middleware()
    limiter_first = (
        index is not None
        and RATE_LIMIT_MIDDLEWARE in middleware
        and middleware.index(RATE_LIMIT_MIDDLEWARE) < index
    )
    if limiter_first:
        api_key_policies = sorted(
            name
            for name, policy in config.policies.items()
            if policy.key.spec == "api_key" and policy.paths
        )
        if api_key_policies:
            problems.append(
                error(
                    26,
                    "RateLimitMiddleware runs before SignedRequestMiddleware, but "
                    f"{api_key_policies} key on 'api_key': "
                    "request.api_key_id is not set yet there, "
                    "so those policies would skip every request.",
                    "Move SignedRequestMiddleware above RateLimitMiddleware in MIDDLEWARE.",
                )
            )
    return problems


def ensure_signing_ready(*, installed: bool | None = None) -> None:
    """Raise ``ImproperlyConfigured`` (a ``ConfigError``) when signing can't work as configured.

    Called from ``apps.ready()`` (``installed`` read from MIDDLEWARE) and from the middleware's
    constructor (``installed=True``: being built is proof). Messages name settings, never secrets.
    """
    config = guard_settings()  # raises ConfigError listing every problem, E020-E024 included
    if installed is None:
        installed = signing_middleware_index() is not None
    problems = [p for p in signing_problems(config, installed=installed) if p.is_error]
    if problems:
        raise ConfigError(problems)


@checks.register("ratelimit_guard")
def check_signing(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    built, _ = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
    if built is None:
        return []  # check_settings (checks.py) reports those problems
    installed = signing_middleware_index() is not None
    return [to_message(p) for p in signing_problems(built, installed=installed)]


__all__ = ["check_signing", "ensure_signing_ready", "signing_middleware_index", "signing_problems"]
