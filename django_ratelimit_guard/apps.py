from __future__ import annotations

from django.apps import AppConfig, apps

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.edge import checks  # noqa: F401  (registers the system checks)
from django_ratelimit_guard.edge.servers import warn_about_proxy_headers
from django_ratelimit_guard.edge.startup import checks_will_report
from django_ratelimit_guard.engine import registry
from django_ratelimit_guard.signing.checks import ensure_signing_ready


class RateLimitGuardConfig(AppConfig):
    name = "django_ratelimit_guard"
    label = "django_ratelimit_guard"
    verbose_name = "Rate limit guard"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        # WSGI/ASGI servers never run system checks: fail at startup, listing every problem,
        # rather than with a 500 on the first request. A management command that runs the
        # checks reports the same problems as check messages instead of a traceback.
        reporting = checks_will_report()
        if reporting:
            # Decorators (imported with the URLconf by the checks) report their problems as
            # check messages too, all of them, instead of raising at the first.
            registry.collect_until_checked()
        try:
            guard_settings()
            ensure_signing_ready()  # SignedRequestMiddleware without usable keys
        except ConfigError:
            if reporting:
                return
            raise
        warn_about_proxy_headers()  # uvicorn rewriting REMOTE_ADDR behind TRUSTED_PROXIES (W140)

        # The operations side defines and queries models: importable only once the app registry
        # is ready, so not at the top of this module (Django imports it before the models).
        from django_ratelimit_guard.ops.install import install  # noqa: PLC0415

        install()  # metrics, limited-client tracking, persisted breaker events, signals

        if apps.is_installed("rest_framework"):
            # Optional dependency: importing it without DRF installed would fail.
            from django_ratelimit_guard.contrib import rest_framework_checks  # noqa: F401, PLC0415
