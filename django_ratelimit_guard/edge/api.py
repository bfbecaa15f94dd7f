"""The programmatic API: ``check``, ``acheck``, ``get_usage``, ``aget_usage``, ``reset``."""

from __future__ import annotations

import functools

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from django_ratelimit_guard.conf.settings import on_reload
from django_ratelimit_guard.core.decisions import Result
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.edge.responses import record_check
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
    """Count ``request`` against the named policies (all in one round trip); return the result.

    The decisions are recorded on ``request.rate_limit`` too, so the response carries their
    RateLimit fields wherever the middleware or a decorator sets them."""
    result = limiter.decide(request, _policies(policies))
    record_check(request, result)
    return result


async def acheck(request: HttpRequest, *policies: str | Policy) -> Result:
    """The async twin of :func:`check`."""
    result = await limiter.adecide(request, _policies(policies))
    record_check(request, result)
    return result


def get_usage(request: HttpRequest, *policies: str | Policy) -> Result:
    """Peek, without counting: ``remaining`` is what the client may still do now (after 2 of 3
    requests, 1), ``allowed`` whether its next request would pass."""
    return limiter.usage(request, _policies(policies))


async def aget_usage(request: HttpRequest, *policies: str | Policy) -> Result:
    """The async twin of :func:`get_usage`."""
    return await limiter.ausage(request, _policies(policies))


def reset(policy: str | Policy, key_value: str) -> None:
    """Clear one client's counter of ``policy`` (Redis and memory). ``key_value`` is the raw value
    the policy's key yields, e.g. the client address for ``key="ip"``."""
    (resolved,) = _policies((policy,))
    limiter.reset(resolved, key_value)
