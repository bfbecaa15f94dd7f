"""The programmatic API: ``check``, ``acheck``, ``get_usage``, ``aget_usage``, ``reset``."""

from __future__ import annotations

import functools

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from django_ratelimit_guard.conf.settings import on_reload
from django_ratelimit_guard.core.decisions import Result
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.engine import limiter, registry


def _policies(names: tuple[str | Policy, ...]) -> tuple[Policy, ...]:
    try:
        return _resolved(names)
    except TypeError:  # an unhashable argument: let _resolve name the problem
        return _resolve(names)


def _resolve(names: tuple[str | Policy, ...]) -> tuple[Policy, ...]:
    if not names:
        raise TypeError("check() needs at least one policy name, e.g. check(request, 'login').")
    policies = []
    for name in names:
        if isinstance(name, Policy):
            policies.append(name)
            continue
        if not isinstance(name, str):
            raise TypeError(
                "Policies are named by str (or given as Policy objects), "
                f"not {type(name).__name__}: {name!r}."
            )
        try:
            policies.append(registry.get_policy(name))
        except KeyError:
            raise ImproperlyConfigured(
                f"Unknown rate-limit policy {name!r}: add it to RATELIMIT_GUARD['POLICIES']."
            ) from None
    for policy in policies:
        if policy.concurrency is not None:  # issue #15: a slot needs an "after"
            raise TypeError(
                f"{policy.name!r} is a concurrency policy: it takes a slot before a view and "
                "gives it back after, so apply it to the view with @rate_limit(...) or "
                "middleware paths, not check()."
            )
    return tuple(policies)


# The same few name tuples come back on every request; errors are not cached.
_resolved = functools.lru_cache(maxsize=256)(_resolve)
on_reload(_resolved.cache_clear)


def check(request: HttpRequest, *policies: str | Policy) -> Result:
    """Count ``request`` against the named policies (all in one round trip); return the result."""
    return limiter.decide(request, _policies(policies))


async def acheck(request: HttpRequest, *policies: str | Policy) -> Result:
    """The async twin of :func:`check`."""
    return await limiter.adecide(request, _policies(policies))


def get_usage(request: HttpRequest, *policies: str | Policy) -> Result:
    """Peek: what :func:`check` would answer, without counting."""
    return limiter.decide(request, _policies(policies), count=False)


async def aget_usage(request: HttpRequest, *policies: str | Policy) -> Result:
    return await limiter.adecide(request, _policies(policies), count=False)


def reset(policy: str | Policy, key_value: str) -> None:
    """Clear one client's counter of ``policy`` (Redis and memory). ``key_value`` is the raw value
    the policy's key yields, e.g. the client address for ``key="ip"``."""
    (resolved,) = _policies((policy,))
    limiter.reset(resolved, key_value)
