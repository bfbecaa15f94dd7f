"""Where policies are found by name: ``RATELIMIT_GUARD['POLICIES']`` first, then the inline
policies that ``@rate_limit(rate=...)`` declared. Inline policies are validated when declared and
rebuilt lazily after a settings change (their fail mode may be inherited)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.core.policies import Policy, build_policy
from django_ratelimit_guard.core.problems import Problem, error

_inline_fields: dict[str, Mapping[str, Any]] = {}
_inline_built: dict[str, Policy] = {}
#: Policy names that decorators refer to; checks.py reports the unknown ones.
referenced_names: set[str] = set()


_staged: list[bool] = []  # issue #15: [whether any known policy is staged], computed lazily


@on_reload
def _forget_built() -> None:
    _inline_built.clear()
    _staged.clear()


def has_staged() -> bool:
    """Whether any known policy has ``count_when`` or ``concurrency`` (issue #15): without one,
    the middleware and decorators never look for them (``edge/staged.py``)."""
    if not _staged:
        _staged.append(any(p.staged for p in all_policies().values()))
    return _staged[0]


def _build_inline(name: str, fields: Mapping[str, Any]) -> Policy:
    config = guard_settings()
    policy, problems = build_policy(
        name,
        fields,
        default_fail_mode=config.default_fail_mode,
        client_ip=lambda: guard_settings().client_ip,
        inline=True,
    )
    if policy is None:
        raise ConfigError(problems)
    return policy


def declare_inline(name: str, fields: Mapping[str, Any]) -> None:
    """Register (and validate now) an inline policy. Raises ConfigError at import time."""
    if name in guard_settings().policies:
        raise ConfigError([_clash(name)])
    previous = _inline_fields.get(name)
    if previous is not None and dict(previous) != dict(fields):
        raise ConfigError([_clash(name, inline=True)])
    _inline_built[name] = _build_inline(name, fields)
    _inline_fields[name] = dict(fields)
    _staged.clear()


def _clash(name: str, inline: bool = False) -> Problem:
    other = (
        "another rate_limit(...) with different fields" if inline else "RATELIMIT_GUARD['POLICIES']"
    )
    return error(
        18,
        f"The inline policy name {name!r} is already used by {other}.",
        "Pass a distinct name= to rate_limit(...).",
    )


def get_policy(name: str) -> Policy:
    """The policy called ``name``; ``KeyError`` if there is none."""
    policy = guard_settings().policies.get(name)
    if policy is not None:
        return policy
    policy = _inline_built.get(name)
    if policy is None:
        fields = _inline_fields.get(name)
        if fields is None:
            raise KeyError(name)  # ratelimit_guard.E019 reports this at startup
        policy = _inline_built[name] = _build_inline(name, fields)
    return policy


def all_policies() -> dict[str, Policy]:
    """Every known policy, settings first (for the admin page and ``status``)."""
    policies = dict(guard_settings().policies)
    for name in _inline_fields:
        policies.setdefault(name, get_policy(name))
    return policies


def has_inline() -> bool:
    return bool(_inline_fields)
