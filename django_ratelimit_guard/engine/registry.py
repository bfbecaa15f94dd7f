"""Where policies are found by name: ``RATELIMIT_GUARD['POLICIES']`` first, then the inline
policies that ``@rate_limit(rate=...)`` declared. Inline policies are validated when declared and
rebuilt lazily after a settings change (their fail mode may be inherited)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.core.policies import Policy, build_policy
from django_ratelimit_guard.core.problems import Problem, error

_inline_fields: dict[str, Mapping[str, Any]] = {}
_inline_built: dict[str, Policy] = {}
#: Inline policy name -> the name clients see in the RateLimit header fields, where they differ
#: (a policy named after its view: ``shop.views.report`` is sent as ``report``).
_header_names: dict[str, str] = {}
#: Policy names that decorators refer to; checks.py reports the unknown ones.
referenced_names: set[str] = set()
#: While > 0, a decorator's problem is collected (``declaration_problems``) instead of raised, so
#: that loading the URLconf reports every decorator problem at once (``edge/startup.py``).
_collecting = 0
_problems: list[Problem] = []


@contextmanager
def collecting() -> Iterator[None]:
    """Collect declaration problems instead of raising them, inside this block."""
    global _collecting
    _collecting += 1
    try:
        yield
    finally:
        _collecting -= 1


_until_checked = False


def collect_until_checked() -> None:
    """Collect declaration problems until the system checks have reported them
    (:func:`checked`): a management command that runs the checks (``apps.ready()``)."""
    global _collecting, _until_checked
    if not _until_checked:
        _until_checked = True
        _collecting += 1


def checked() -> None:
    """The checks have reported the collected problems: decorators raise again from now on."""
    global _collecting, _until_checked
    if _until_checked:
        _until_checked = False
        _collecting -= 1


def declaration_problems() -> list[Problem]:
    """Every problem a decorator met while problems were collected."""
    return list(_problems)


def _raise_or_collect(exc: ConfigError) -> None:
    if not _collecting:
        raise exc
    _problems.extend(p for p in exc.problems if p not in _problems)


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


def declare_inline(name: str, fields: Mapping[str, Any], header: str | None = None) -> None:
    """Register (and validate now) an inline policy. Raises ConfigError at import time, unless
    problems are being collected (``collecting``).

    ``header`` is the name sent to clients when it differs from ``name`` (``header_name``)."""
    try:
        _declare(name, fields, header)
    except ConfigError as exc:
        _raise_or_collect(exc)


def _declare(name: str, fields: Mapping[str, Any], header: str | None) -> None:
    if name in guard_settings().policies:
        raise ConfigError([_clash(name)])
    previous = _inline_fields.get(name)
    if previous is not None:
        if dict(previous) != dict(fields):
            raise ConfigError([_clash(name, inline=True)])
        return  # declared again: method_decorator applies us on every call
    _inline_built[name] = _build_inline(name, fields)
    _inline_fields[name] = dict(fields)
    _staged.clear()
    if header is not None and header != name:
        _header_names[name] = header


def validate_inline(fields: Mapping[str, Any], where: str) -> None:
    """Validate inline fields without declaring a policy. Raises ConfigError (or collects it)."""
    try:
        _build_inline(where, fields)
    except ConfigError as exc:
        _raise_or_collect(exc)


def header_name(name: str) -> str:
    """The name of policy ``name`` in the RateLimit header fields: the internal name, except for
    a policy named after its view, which clients know by the view's short name (the module path
    stays internal: admin, metrics, storage keys)."""
    return _header_names.get(name, name)


def header_name_clashes() -> dict[str, list[str]]:
    """Header names that several policies would share (settings and inline), each with the
    internal names that share it (checks.py warns: ratelimit_guard.W090)."""
    owners: dict[str, list[str]] = {}
    for name in (*guard_settings().policies, *_inline_fields):
        owners.setdefault(header_name(name), []).append(name)
    return {header: sorted(names) for header, names in owners.items() if len(set(names)) > 1}


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
