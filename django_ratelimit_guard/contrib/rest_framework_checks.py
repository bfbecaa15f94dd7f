"""System check for DRF views limited by :class:`PolicyThrottle`: every policy they name must exist.

Registered by ``apps.ready()`` when ``rest_framework`` is installed, so a misspelt
``throttle_scope`` fails ``manage.py check`` (and ``runserver``) instead of raising on the first
request to that view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver

from django_ratelimit_guard.contrib.rest_framework import PolicyThrottle
from django_ratelimit_guard.engine import registry


def _views(patterns: Sequence[Any]) -> Iterator[type]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None) or getattr(
                pattern.callback, "view_class", None
            )
            if isinstance(view_class, type):
                yield view_class


@checks.register("ratelimit_guard")
def check_drf_policy_names(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    try:
        patterns = get_resolver().url_patterns
    except Exception:
        return []
    try:
        known = set(registry.all_policies())
    except ImproperlyConfigured:  # reported by check_settings
        return []
    messages: list[checks.CheckMessage] = []
    seen: set[type] = set()
    for view in _views(patterns):
        if view in seen:
            continue
        seen.add(view)
        for throttle in getattr(view, "throttle_classes", ()) or ():
            if not (isinstance(throttle, type) and issubclass(throttle, PolicyThrottle)):
                continue
            try:
                names = throttle().get_policy_names(None, view)
            except ImproperlyConfigured as exc:
                messages.append(checks.Error(str(exc), obj=view, id="ratelimit_guard.E060"))
                continue
            messages += [
                checks.Error(
                    f"{view.__name__} names the rate-limit policy {name!r}, which "
                    "RATELIMIT_GUARD['POLICIES'] does not define.",
                    hint="Add the policy, or correct throttle_scope / rate_limit_policies.",
                    obj=view,
                    id="ratelimit_guard.E060",
                )
                for name in names
                if name not in known
            ]
    return messages
