"""``RATELIMIT_GUARD``: one settings dict, validated whole, frozen, cached, rebuilt on change.

``guard_settings()`` builds :class:`GuardSettings` once and raises :class:`ConfigError` listing
*every* problem. ``apps.py`` turns that into ``ImproperlyConfigured`` at startup (WSGI servers
never run system checks) and ``checks.py`` into ``ratelimit_guard.E###`` messages. Caches of
derived state register with :func:`on_reload` and are dropped whenever the settings change.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from django_ratelimit_guard.conf import validate
from django_ratelimit_guard.conf.caches import cache_alias_problems
from django_ratelimit_guard.conf.sections import (
    BREAKER_BOUNDS,
    CONTROL_BOUNDS,
    FALLBACK_BOUNDS,
    BreakerSettings,
    ControlSettings,
    FallbackSettings,
    GuardSettings,
)
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.core.policies import FailMode, Policy, build_policy
from django_ratelimit_guard.core.problems import Problem, error

TOP_LEVEL_KEYS = frozenset(
    {
        "ENABLED",
        "CACHE_ALIAS",
        "KEY_PREFIX",
        "POLICIES",
        "DEFAULT_FAIL_MODE",
        "CLIENT_IP",
        "BREAKER",
        "FALLBACK",
        "RESPONSE",
        "SIGNING",
        "METRICS",
        "CONTROL",
        "LOCAL_DENIALS",
    }
)


def build_settings(raw: object) -> tuple[GuardSettings | None, list[Problem]]:
    """Validate the whole ``RATELIMIT_GUARD`` dict; return the settings and every problem."""
    problems: list[Problem] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return None, [error(1, f"RATELIMIT_GUARD is {type(raw).__name__}: expected a dict.")]
    for key in sorted(set(raw) - TOP_LEVEL_KEYS, key=str):
        problems.append(
            error(
                1,
                f"RATELIMIT_GUARD has unknown key {key!r}.",
                f"Known keys: {', '.join(sorted(TOP_LEVEL_KEYS))}.",
            )
        )

    enabled = raw.get("ENABLED", True)
    if not isinstance(enabled, bool):
        problems.append(
            error(8, f"RATELIMIT_GUARD['ENABLED'] is {enabled!r}: expected True or False.")
        )
        enabled = True

    local_denials = _local_denials(raw, problems)
    cache_alias = raw.get("CACHE_ALIAS", "default")
    problems.extend(cache_alias_problems(cache_alias, explicit="CACHE_ALIAS" in raw))

    prefix = raw.get("KEY_PREFIX", "rlg")
    if (
        not isinstance(prefix, str)
        or not prefix
        or len(prefix) > 64
        or any(c in prefix for c in "{} \t\r\n")
    ):
        problems.append(
            error(
                15,
                f"RATELIMIT_GUARD['KEY_PREFIX'] is {prefix!r}: expected 1-64 characters without "
                "braces or whitespace.",
                "Braces would change the Redis Cluster hash tag of every key.",
            )
        )
        prefix = "rlg"

    default_fail_mode = FailMode.MEMORY
    if "DEFAULT_FAIL_MODE" in raw:
        try:
            default_fail_mode = FailMode(raw["DEFAULT_FAIL_MODE"])
        except ValueError:
            problems.append(
                error(
                    5,
                    f"RATELIMIT_GUARD['DEFAULT_FAIL_MODE'] is {raw['DEFAULT_FAIL_MODE']!r}.",
                    "Use 'memory', 'closed' or 'open'.",
                )
            )

    client_ip = validate.client_ip_settings(raw, problems)
    breaker = BreakerSettings(
        **validate.tuning("BREAKER", raw.get("BREAKER"), BREAKER_BOUNDS, problems, 11)
    )
    problems.extend(_health_check_problems(breaker.health_check_seconds))
    fallback = FallbackSettings(
        **validate.tuning("FALLBACK", raw.get("FALLBACK"), FALLBACK_BOUNDS, problems, 12)
    )
    control = ControlSettings(
        **validate.tuning("CONTROL", raw.get("CONTROL"), CONTROL_BOUNDS, problems, 81)
    )
    response = validate.response_settings(raw, problems)
    signing = validate.signing_settings(raw, problems)
    metrics = validate.metrics_settings(raw, problems)

    policies: dict[str, Policy] = {}
    raw_policies = raw.get("POLICIES") or {}
    if not isinstance(raw_policies, Mapping):
        problems.append(
            error(8, "RATELIMIT_GUARD['POLICIES'] must be a dict: name -> policy dict.")
        )
        raw_policies = {}
    for name, policy_raw in raw_policies.items():
        if not isinstance(name, str):
            problems.append(error(17, f"Policy names must be strings, got {name!r}."))
            continue
        policy, policy_problems = build_policy(
            name, policy_raw, default_fail_mode=default_fail_mode, client_ip=lambda: client_ip
        )
        problems.extend(policy_problems)
        if policy is not None:
            policies[name] = policy

    if any(p.is_error for p in problems):
        return None, problems
    secret = hashlib.sha256(
        b"django-ratelimit-guard:keys:" + str(settings.SECRET_KEY).encode()
    ).digest()
    return (
        GuardSettings(
            enabled=enabled,
            cache_alias=cache_alias,
            key_prefix=prefix,
            policies=policies,
            default_fail_mode=default_fail_mode,
            client_ip=client_ip,
            breaker=breaker,
            fallback=fallback,
            response=response,
            signing=signing,
            metrics=metrics,
            path_policies=tuple(p for p in policies.values() if p.paths),
            key_secret=secret,
            control=control,
            local_denials=local_denials,
        ),
        problems,
    )


#: Health checks more often than this would be a PING loop, not a check.
MIN_HEALTH_CHECK_SECONDS = 0.05


def _health_check_problems(seconds: float) -> list[Problem]:
    if 0 < seconds < MIN_HEALTH_CHECK_SECONDS:
        message = (
            f"BREAKER HEALTH_CHECK_SECONDS is {seconds!r}: expected 0 (off) or at least "
            f"{MIN_HEALTH_CHECK_SECONDS:g} s."
        )
        return [error(11, message)]
    return []


def _local_denials(raw: Mapping[str, object], problems: list[Problem]) -> bool:
    value = raw.get("LOCAL_DENIALS", True)
    if isinstance(value, bool):
        return value
    problems.append(
        error(
            100,
            f"RATELIMIT_GUARD['LOCAL_DENIALS'] is {value!r}: expected True or False.",
            "True (the default) answers a client Redis denied from this process's memory until "
            "its retry time; False asks Redis on every request.",
        )
    )
    return True


@functools.cache
def guard_settings() -> GuardSettings:
    """The validated settings; raises ConfigError listing every problem."""
    built, problems = build_settings(getattr(settings, "RATELIMIT_GUARD", {}))
    if built is None:
        raise ConfigError([p for p in problems if p.is_error])
    return built


def on_reload(func: Callable[[], object]) -> Callable[[], object]:
    """Register ``func`` to be called whenever the settings (or CACHES, or SECRET_KEY) change:
    for caches of derived state. A decorator; ``bus.settings_reloaded`` carries the calls."""
    return bus.settings_reloaded.subscribe(func)


def reset_all() -> None:
    """Forget every cached setting and derived object (tests, reloads)."""
    guard_settings.cache_clear()
    bus.settings_reloaded.publish()


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: object) -> None:
    if setting in ("RATELIMIT_GUARD", "CACHES", "SECRET_KEY"):
        reset_all()


__all__ = ["TOP_LEVEL_KEYS", "build_settings", "guard_settings", "on_reload", "reset_all"]
