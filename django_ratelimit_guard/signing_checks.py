"""Checks for request signing and the metrics view; every id is listed in docs/checks.md.

Bad ``SIGNING`` values themselves (E020-E024) come from ``conf.py``; this module adds what only the
surrounding project shows: the middleware is installed without keys (E025), it runs after a
rate limiter that keys on its result (E026), and the metrics export is reachable unprotected
(deploy warnings W020, W021).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from django_ratelimit_guard.checks_registry import Problem, error, warning
from django_ratelimit_guard.exceptions import ConfigError

SIGNED_MIDDLEWARE = (
    "django_ratelimit_guard.middleware.SignedRequestMiddleware",
    "django_ratelimit_guard.signing_middleware.SignedRequestMiddleware",
)
RATE_LIMIT_MIDDLEWARE = "django_ratelimit_guard.middleware.RateLimitMiddleware"
PROMETHEUS_EXPORT_VIEW = ("django_prometheus.exports", "ExportToDjangoView")
OUR_METRICS_VIEW = ("django_ratelimit_guard.views", "metrics")


def _middleware() -> list[str]:
    return [str(m) for m in (getattr(settings, "MIDDLEWARE", None) or [])]


def signing_middleware_index() -> int | None:
    middleware = _middleware()
    for index, path in enumerate(middleware):
        if path in SIGNED_MIDDLEWARE:
            return index
    return None


def signing_problems(config: Any, *, installed: bool) -> list[Problem]:
    """Problems of a valid ``GuardSettings`` that only matter once the middleware is in use."""
    if not installed:
        return []
    problems = []
    if not config.signing.keys:
        problems.append(error(
            25,
            "SignedRequestMiddleware is installed but RATELIMIT_GUARD['SIGNING']['KEYS'] is empty: "
            "every request to the signed paths would be refused.",
            "Add {'<key id>': ['<secret of at least 32 bytes>']} to SIGNING['KEYS'] (read the "
            "secrets from the environment), or remove the middleware.",
        ))
    index = signing_middleware_index()
    middleware = _middleware()
    limiter_first = (
        index is not None
        and RATE_LIMIT_MIDDLEWARE in middleware
        and middleware.index(RATE_LIMIT_MIDDLEWARE) < index
    )
    if limiter_first:
        api_key_policies = sorted(
            name for name, policy in config.policies.items()
            if policy.key.spec == "api_key" and policy.paths
        )
        if api_key_policies:
            problems.append(error(
                26,
                "RateLimitMiddleware runs before SignedRequestMiddleware, but "
                f"{api_key_policies} key on 'api_key': request.api_key_id is not set yet there, "
                "so those policies would skip every request.",
                "Move SignedRequestMiddleware above RateLimitMiddleware in MIDDLEWARE.",
            ))
    return problems


def ensure_signing_ready(*, installed: bool | None = None) -> None:
    """Raise ``ImproperlyConfigured`` (a ``ConfigError``) when signing can't work as configured.

    Called from ``apps.ready()`` (``installed`` read from MIDDLEWARE) and from the middleware's
    constructor (``installed=True``: being built is proof). Messages name settings, never secrets.
    """
    from django_ratelimit_guard.conf import guard_settings

    config = guard_settings()  # raises ConfigError listing every problem, E020-E024 included
    if installed is None:
        installed = signing_middleware_index() is not None
    problems = [p for p in signing_problems(config, installed=installed) if p.is_error]
    if problems:
        raise ConfigError(problems)


def _to_message(problem: Problem, obj: object = None) -> checks.CheckMessage:
    kind = checks.Error if problem.is_error else checks.Warning
    return kind(problem.msg, hint=problem.hint or None, id=problem.id, obj=obj)


@checks.register("ratelimit_guard")
def check_signing(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    from django_ratelimit_guard.conf import build_settings

    built, _ = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
    if built is None:
        return []  # check_settings (checks.py) reports those problems
    installed = signing_middleware_index() is not None
    return [_to_message(p) for p in signing_problems(built, installed=installed)]


def _callbacks(patterns: Sequence[Any]) -> Iterator[Any]:
    for pattern in patterns:
        nested = getattr(pattern, "url_patterns", None)
        if nested is not None:
            yield from _callbacks(nested)
        else:
            yield getattr(pattern, "callback", None)


def _is_view(callback: Any, where: tuple[str, str]) -> bool:
    callback = getattr(callback, "__wrapped__", callback)
    return (getattr(callback, "__module__", None), getattr(callback, "__name__", None)) == where


def metrics_exposure_problems() -> list[Problem]:
    from django.urls import get_resolver

    try:
        callbacks = list(_callbacks(get_resolver().url_patterns))
    except Exception:  # Django's own URL checks report a broken URLconf
        return []
    problems = []
    if any(_is_view(c, PROMETHEUS_EXPORT_VIEW) for c in callbacks):
        problems.append(warning(
            20,
            "django-prometheus's ExportToDjangoView is routed in the URLconf: it serves every "
            "metric to anyone who can reach it, with no address or token check.",
            "Remove `path('', include('django_prometheus.urls'))` and route "
            "`include('django_ratelimit_guard.urls')` instead; it serves the same registry behind "
            "RATELIMIT_GUARD['METRICS'] ALLOWED_CIDRS / BEARER_TOKEN.",
        ))
    if any(_is_view(c, OUR_METRICS_VIEW) for c in callbacks):
        from django_ratelimit_guard.conf import build_settings

        built, _ = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
        if built is not None and not built.metrics.allowed_cidrs and not built.metrics.bearer_token:
            problems.append(warning(
                21,
                "The ratelimit_guard metrics view is routed with neither "
                "METRICS['ALLOWED_CIDRS'] nor METRICS['BEARER_TOKEN'] set: anyone who can reach "
                "it can read the metrics.",
                "Set RATELIMIT_GUARD['METRICS']['BEARER_TOKEN'] (from the environment) and/or "
                "ALLOWED_CIDRS to your scraper's network.",
            ))
    return problems


@checks.register("ratelimit_guard", deploy=True)
def check_metrics_exposure(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return [_to_message(p) for p in metrics_exposure_problems()]
