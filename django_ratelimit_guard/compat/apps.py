from __future__ import annotations

from django.apps import AppConfig

from django_ratelimit_guard.compat import checks  # noqa: F401  (registers the checks)


class RatelimitCompatConfig(AppConfig):
    name = "django_ratelimit_guard.compat"
    label = "ratelimit_guard_compat"
    verbose_name = "Rate limit guard (django-ratelimit compatibility)"
