"""The programmatic API: ``check``, ``acheck``, ``get_usage``, ``aget_usage``, ``reset``."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from django_ratelimit_guard import limiter, registry
from django_ratelimit_guard.decisions import Result
from django_ratelimit_guard.policies import Policy


def _policies(names: tuple[str | Policy, ...]) -> list[Policy]:
    if not names:
        raise TypeError("check() needs at least one policy name, e.g. check(request, 'login').")
    policies = []
    for name in names:
        if isinstance(name, Policy):
            policies.append(name)
            continue
        try:
            policies.append(registry.get_policy(name))
        except KeyError:
            raise ImproperlyConfigured(
                f"Unknown rate-limit policy {name!r}: add it to RATELIMIT_GUARD['POLICIES']."
            ) from None
    return policies


def check(request: HttpRequest, *policies: str | Policy) -> Result:
    """Count ``request`` against the named policies — all in one round trip — and return the result."""
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
