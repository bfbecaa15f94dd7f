"""System checks. Every id is listed in docs/checks.md; ids are never reused.

Configuration errors come from the same validation ``guard_settings()`` runs (``conf``); this
module adds what only the surrounding project shows: cache options, middleware order, policies
that decorators name, and whether the metrics export is reachable unprotected (deploy warnings).
The signing checks are ``signing/checks.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.urls import get_resolver
from django.utils.module_loading import import_string

from django_ratelimit_guard.conf.settings import build_settings
from django_ratelimit_guard.core.problems import Problem, to_message, warning
from django_ratelimit_guard.edge.middleware import RateLimitMiddleware
from django_ratelimit_guard.edge.startup import unknown_name_problems
from django_ratelimit_guard.engine import registry

MIDDLEWARE_PATH = "django_ratelimit_guard.middleware.RateLimitMiddleware"
EDGE_MIDDLEWARE_PATH = "django_ratelimit_guard.edge.middleware.RateLimitMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
MAX_SOCKET_TIMEOUT = 0.5
PROMETHEUS_EXPORT_VIEW = ("django_prometheus.exports", "ExportToDjangoView")
OUR_METRICS_VIEW = ("django_ratelimit_guard.edge.views", "metrics")


@checks.register("ratelimit_guard")
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    try:
        # Import the views first, decorator problems collected: whichever check imports the
        # URLconf first (Django's URL checks run before or after this one, by version), no
        # decorator raises while the checks are reporting (apps.ready, registry.checked).
        _load_views()
        built, problems = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
        messages = [to_message(p) for p in problems]
        if built is None:
            return messages
        messages += [to_message(p) for p in cache_problems(built.cache_alias)]
        messages += [to_message(p) for p in middleware_problems(built.policies.values())]
        messages += [to_message(p) for p in unapplied_path_problems(built.policies.values())]
        messages += [to_message(p) for p in referenced_policy_problems(built.policies)]
        messages += [to_message(p) for p in header_name_problems()]
        return messages
    finally:
        registry.checked()  # reported: a decorator applied later raises again (apps.ready)


def cache_problems(alias: str) -> list[Problem]:
    caches: dict[str, Any] = settings.CACHES
    cache = caches.get(alias, {})
    options: dict[str, Any] = cache.get("OPTIONS") or {}
    problems = []
    where = f"CACHES[{alias!r}]['OPTIONS']"
    for option in ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"):
        value = options.get(option)
        if value is None:
            problems.append(
                warning(
                    1,
                    f"{where} has no {option}: a frozen Redis would hang every request.",
                    f"Set {option} to 0.1 (seconds) for the rate-limit cache.",
                )
            )
        elif isinstance(value, (int, float)) and value > MAX_SOCKET_TIMEOUT:
            problems.append(
                warning(
                    2,
                    f"{where}[{option!r}] is {value} s: every request waits that long while "
                    "the breaker detects an outage.",
                    "Use 0.1 to 0.5 seconds.",
                )
            )
    if options.get("IGNORE_EXCEPTIONS") or getattr(
        settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False
    ):
        problems.append(
            warning(
                3,
                f"{where} sets IGNORE_EXCEPTIONS: django-redis would hide Redis outages.",
                "The limiter uses the raw client and its own breaker; leave IGNORE_EXCEPTIONS off "
                "for this alias.",
            )
        )
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
    return [
        warning(
            4,
            "RateLimitMiddleware comes before AuthenticationMiddleware, "
            f"but {users} key on the user: "
            "request.user does not exist yet there.",
            "Move RateLimitMiddleware after AuthenticationMiddleware.",
        )
    ]


def rate_limit_middleware_installed() -> bool:
    """Whether ``RateLimitMiddleware`` (or a subclass) is in ``MIDDLEWARE``."""
    for entry in getattr(settings, "MIDDLEWARE", None) or []:
        if entry in (MIDDLEWARE_PATH, EDGE_MIDDLEWARE_PATH):
            return True
        try:
            cls = import_string(entry)
        except ImportError:
            continue  # Django reports a middleware that does not import
        if isinstance(cls, type) and issubclass(cls, RateLimitMiddleware):
            return True
    return False


def unapplied_path_problems(policies: Any) -> list[Problem]:
    with_paths = sorted(p.name for p in policies if p.paths)
    if not with_paths or rate_limit_middleware_installed():
        return []
    return [
        warning(
            91,
            f"The policies {with_paths} have 'paths', but RateLimitMiddleware is not in "
            "MIDDLEWARE: only the middleware applies policies by path, so those paths are not "
            "limited at all.",
            f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE (after AuthenticationMiddleware), or drop "
            "'paths' and name the policies with @rate_limit(...) on their views.",
        )
    ]


def referenced_policy_problems(policies: Any) -> list[Problem]:
    """Every ``@rate_limit`` problem: loading the URLconf imports the views, so their decorators
    declare (or, collected, report) their policies (``edge/startup.py``)."""
    _load_views()
    return registry.declaration_problems() + unknown_name_problems(policies)


def _load_views() -> None:
    # Django's own URL checks report a URLconf that fails to import.
    with registry.collecting(), contextlib.suppress(Exception):
        _ = get_resolver().url_patterns


def header_name_problems() -> list[Problem]:
    """Policies that clients would see under one name (``registry.header_name``): two views
    with the same short name in different modules, or a view named like a settings policy.
    Call after the URLconf is loaded (``referenced_policy_problems`` loads it)."""
    return [
        warning(
            90,
            f"The policies {', '.join(names)} are all sent to clients as {header!r} in the "
            "RateLimit header fields: a client cannot tell their quotas apart.",
            f"Pass a distinct name= to @rate_limit(...) on all but one of them, e.g. "
            f"@rate_limit(..., name={header + '-2'!r}).",
        )
        for header, names in sorted(registry.header_name_clashes().items())
    ]


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
    try:
        callbacks = list(_callbacks(get_resolver().url_patterns))
    except Exception:  # Django's own URL checks report a broken URLconf
        return []
    problems = []
    if any(_is_view(c, PROMETHEUS_EXPORT_VIEW) for c in callbacks):
        problems.append(
            warning(
                20,
                "django-prometheus's ExportToDjangoView is routed in the URLconf: it serves every "
                "metric to anyone who can reach it, with no address or token check.",
                "Remove `path('', include('django_prometheus.urls'))` and route "
                "`include('django_ratelimit_guard.urls')` instead; it serves the same registry "
                "behind "
                "RATELIMIT_GUARD['METRICS'] ALLOWED_CIDRS / BEARER_TOKEN.",
            )
        )
    if any(_is_view(c, OUR_METRICS_VIEW) for c in callbacks):
        built, _ = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
        if built is not None and not built.metrics.allowed_cidrs and not built.metrics.bearer_token:
            problems.append(
                warning(
                    21,
                    "The ratelimit_guard metrics view is routed with neither "
                    "METRICS['ALLOWED_CIDRS'] nor METRICS['BEARER_TOKEN'] set: "
                    "anyone who can reach "
                    "it can read the metrics.",
                    "Set RATELIMIT_GUARD['METRICS']['BEARER_TOKEN'] (from the environment) and/or "
                    "ALLOWED_CIDRS to your scraper's network.",
                )
            )
    return problems


@checks.register("ratelimit_guard", deploy=True)
def check_metrics_exposure(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return [to_message(p) for p in metrics_exposure_problems()]


@checks.register("ratelimit_guard", deploy=True)
def check_local_denials_reach(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """W100: remembered denials (``engine/local.py``) outlive an operator's reset in every
    process but the one that issued it when the fleet channel does not run."""
    built, _ = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
    if built is None or not built.local_denials or built.control.poll_seconds > 0:
        return []
    problem = warning(
        100,
        "RATELIMIT_GUARD['LOCAL_DENIALS'] is on while CONTROL['POLL_SECONDS'] is 0: an operator's "
        "reset of a client (reset-key, the admin) reaches only the process that issued it; the "
        "others keep denying that client from memory until its retry time.",
        "Let the fleet channel run (CONTROL['POLL_SECONDS'], 2 s by default), or set "
        "LOCAL_DENIALS to False.",
    )
    return [to_message(problem)]
