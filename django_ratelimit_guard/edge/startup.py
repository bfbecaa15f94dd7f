"""Configuration errors at startup: every ``@rate_limit`` problem at once, when
``AppConfig.ready()`` raises, and when a management command's system checks report them instead.

Decorators run when their views are imported, which Django does lazily, with the URLconf.
``validate_views()`` imports it — every routed view, so every decorator — while problems are
collected rather than raised, and raises one ``ConfigError`` listing them all, unknown policy
names included. ``RateLimitMiddleware``'s constructor calls it: the WSGI/ASGI handler builds the
middleware when the server loads the application (``get_wsgi_application()``), after
``django.setup()``. ``AppConfig.ready()`` may not import the URLconf: another app's ``ready()``
(the admin's autodiscovery) may not have run yet, and ``admin.site.urls`` freezes the admin's
models when it is evaluated.

Servers (gunicorn, uvicorn, ``get_wsgi_application()``) never run the system checks, so
``ready()`` raises ``ImproperlyConfigured`` listing every problem. A management command that runs
the checks (``check``, ``runserver``, ``migrate``, ``test``, and every command that
``requires_system_checks``) reports the same problems as check messages — ids, hints, every
problem — when ``ready()`` lets it get that far instead of failing inside ``django.setup()`` with
a traceback first.
"""

from __future__ import annotations

import sys

from django.core.management import ManagementUtility, get_commands, load_command_class
from django.urls import get_resolver

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.core.problems import Problem, error
from django_ratelimit_guard.engine import registry

#: Commands that run the system checks themselves, whatever ``requires_system_checks`` says.
CHECKING_COMMANDS = frozenset({"check", "runserver", "migrate", "test"})


def _subcommand_argv() -> list[str] | None:
    """The argv of the ``manage.py`` / ``django-admin`` run that is setting Django up, if any."""
    frame = sys._getframe(1)
    code = ManagementUtility.execute.__code__
    while frame is not None:
        if frame.f_code is code:
            utility = frame.f_locals.get("self")
            argv = getattr(utility, "argv", None)
            return list(argv) if isinstance(argv, list) else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def checks_will_report() -> bool:
    """Whether this process is a management command that runs the system checks, which will
    report any ``RATELIMIT_GUARD`` problem as a check message (``ready()`` then defers)."""
    argv = _subcommand_argv()
    if not argv or len(argv) < 2 or "--skip-checks" in argv:
        return False
    name = argv[1]
    if name in CHECKING_COMMANDS:
        return True
    try:
        command = load_command_class(get_commands()[name], name)
    except Exception:  # an unknown or broken command: Django reports it itself
        return False
    return bool(command.requires_system_checks)


def unknown_name_problems(policies: object) -> list[Problem]:
    """``@rate_limit("name")`` naming no policy (of ``policies``: the settings' names)."""
    return [
        error(
            19,
            f"@rate_limit({name!r}) names a policy that RATELIMIT_GUARD['POLICIES'] "
            "does not define.",
            "Add it to POLICIES, or declare it inline: @rate_limit(rate='5/m', ...).",
        )
        for name in sorted(registry.referenced_names - set(policies))  # type: ignore[call-overload]
    ]


def decorator_problems() -> list[Problem]:
    """Every problem of the decorators imported so far: their declarations, then unknown names."""
    return registry.declaration_problems() + unknown_name_problems(guard_settings().policies)


_validated = False


def validate_views_once() -> None:
    """:func:`validate_views`, once per process (every later call returns at once): a server
    builds its middleware once; the checks are for the configuration it starts with."""
    global _validated
    if not _validated:
        validate_views()
        _validated = True


def validate_views() -> None:
    """Import the URLconf (every routed view, so every ``@rate_limit``) and raise one
    ``ConfigError`` listing every decorator problem, rather than a 500 per request later.

    Call it once Django is set up (``RateLimitMiddleware`` does, when the server builds it).
    A URLconf that fails to import for another reason raises that error here, at startup."""
    with registry.collecting():
        _ = get_resolver().url_patterns
    problems = decorator_problems()
    if problems:
        raise ConfigError(problems)


__all__ = [
    "CHECKING_COMMANDS",
    "checks_will_report",
    "decorator_problems",
    "unknown_name_problems",
    "validate_views",
    "validate_views_once",
]
