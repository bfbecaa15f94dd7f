from __future__ import annotations

from django.apps import AppConfig


class RateLimitGuardConfig(AppConfig):
    name = "django_ratelimit_guard"
    label = "django_ratelimit_guard"
    verbose_name = "Rate limit guard"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django_ratelimit_guard import checks  # noqa: F401  (registers the system checks)
        from django_ratelimit_guard.conf import guard_settings

        # WSGI/ASGI servers never run system checks: fail at startup, listing every problem,
        # rather than with a 500 on the first request.
        guard_settings()
        from django_ratelimit_guard import signing_checks

        signing_checks.ensure_signing_ready()  # SignedRequestMiddleware without usable keys

        from django_ratelimit_guard import hooks

        hooks.install()  # metrics, limited-client tracking, persisted breaker events

        from django.apps import apps

        if apps.is_installed("rest_framework"):
            from django_ratelimit_guard.contrib import rest_framework_checks  # noqa: F401
