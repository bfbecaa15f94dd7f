"""The decision path: from a request and its policies to a :class:`Result`, in one store call.

``plan.plan`` resolves each policy for this request (method, rate, key, cost) into a storage hit;
``decide.decide`` runs all hits in one round trip (or the fail modes); ``_finish`` turns verdicts
into decisions and publishes them (``bus.decided``, ``bus.limited``). Nothing here knows HTTP
responses or Lua.
"""

from __future__ import annotations

from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.http import HttpRequest

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.algorithms import Verdict
from django_ratelimit_guard.core.decisions import Decision, Result, Source, new_decision
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.core.rates import Rate
from django_ratelimit_guard.core.usage import verdict_now
from django_ratelimit_guard.engine import decide as store_decide
from django_ratelimit_guard.engine import overrides
from django_ratelimit_guard.engine.plan import PlannedHit, plan, storage_key


def _needs_sync_context(policies: Sequence[Policy]) -> bool:
    """Whether resolving these policies may touch sync-only code (user callables, the ORM)."""
    return any(
        not isinstance(p.rate, Rate)
        or not isinstance(p.cost, int)
        or p.key.uses_user
        or p.skip_if is not None  # issue #15: user code (may read request.user, the ORM)
        or (
            p.key.spec not in ("ip", "api_key") and not p.key.spec.startswith(("header:", "param:"))
        )
        for p in policies
    )


def _finish(
    request: HttpRequest,
    planned: Sequence[PlannedHit],
    outcome: Sequence[tuple[Verdict, Source]],
    count: bool,
) -> Result:
    # Positional arguments: this runs once per policy per request (see Decision's fields).
    result = Result(
        [
            new_decision(
                p.policy.name,
                verdict.allowed,
                p.fallback.limit if source == "memory" else p.hit.limit,
                verdict.remaining,
                verdict.reset_ms / 1000,
                0.0 if verdict.allowed else verdict.retry_ms / 1000,
                source,
                p.rate.window,
                p.hit.block,
            )
            for p, (verdict, source) in zip(planned, outcome, strict=True)
        ]
    )
    if count:
        bus.decided.publish(request, result)
    return result


def decide(request: HttpRequest, policies: Sequence[Policy], *, count: bool = True) -> Result:
    """Decide ``policies`` for ``request`` — all of them in one store round trip."""
    config = guard_settings()
    if not config.enabled or not policies:
        return Result()
    planned = plan(request, policies, config)
    ruled: list[Decision] = []
    if overrides.rules:  # issue #15: runtime overrides (engine/overrides.py); none: this check
        planned, ruled = overrides.apply(planned, config)
        if ruled and Result(ruled).rejected:
            return _ruled(request, ruled, count)  # a block: answered here, no store call
    if not planned:
        return Result(ruled)
    result = _finish(request, planned, store_decide.decide(planned, count=count), count)
    if count and result.rejected:
        bus.limited.publish(request, result)
    return Result([*ruled, *result.decisions]) if ruled else result


def _ruled(request: HttpRequest, ruled: list[Decision], count: bool) -> Result:
    result = Result(ruled)
    if count:
        bus.decided.publish(request, result)
        bus.limited.publish(request, result)
    return result


async def adecide(
    request: HttpRequest, policies: Sequence[Policy], *, count: bool = True
) -> Result:
    """The async twin of :func:`decide`; never blocks the event loop on Redis."""
    config = guard_settings()
    if not config.enabled or not policies:
        return Result()
    if _needs_sync_context(policies):
        planned = await sync_to_async(plan)(request, policies, config)
    else:
        planned = plan(request, policies, config)
    ruled: list[Decision] = []
    if overrides.rules:  # issue #15, as in decide()
        planned, ruled = overrides.apply(planned, config)
        if ruled and Result(ruled).rejected:
            return await sync_to_async(_ruled)(request, ruled, count)
    if not planned:
        return Result(ruled)
    result = _finish(request, planned, await store_decide.adecide(planned, count=count), count)
    if count and result.rejected:
        # Subscribers may be sync-only code (signal receivers using the ORM); rejections are
        # rare, the hop is fine.
        await sync_to_async(bus.limited.publish)(request, result)
    return Result([*ruled, *result.decisions]) if ruled else result


def _as_of_now(
    planned: Sequence[PlannedHit], outcome: Sequence[tuple[Verdict, Source]]
) -> list[tuple[Verdict, Source]]:
    # A peek answers for a hypothetical next hit; get_usage reports the state before it.
    now = []
    for p, (verdict, source) in zip(planned, outcome, strict=True):
        rate = p.fallback if source == "memory" else p.rate
        now.append(
            (verdict_now(verdict, p.hit.algorithm, rate.limit, rate.window_ms, p.hit.cost), source)
        )
    return now


def usage(request: HttpRequest, policies: Sequence[Policy]) -> Result:
    """What ``request``'s client has left now under ``policies``, without counting (one store
    round trip); each decision's ``allowed`` says whether its next request would pass."""
    config = guard_settings()
    if not config.enabled or not policies:
        return Result()
    planned = plan(request, policies, config)
    if not planned:
        return Result()
    outcome = store_decide.decide(planned, count=False)
    return _finish(request, planned, _as_of_now(planned, outcome), False)


async def ausage(request: HttpRequest, policies: Sequence[Policy]) -> Result:
    """The async twin of :func:`usage`."""
    config = guard_settings()
    if not config.enabled or not policies:
        return Result()
    if _needs_sync_context(policies):
        planned = await sync_to_async(plan)(request, policies, config)
    else:
        planned = plan(request, policies, config)
    if not planned:
        return Result()
    outcome = await store_decide.adecide(planned, count=False)
    return _finish(request, planned, _as_of_now(planned, outcome), False)


def reset(policy: Policy, key_value: str) -> None:
    """Forget one client's counter of ``policy``, in Redis and in this process (the fallback store
    and what Redis last answered: ``bus.client_reset``). Other processes learn of an operator's
    reset through the fleet channel (``ops/actions.py``)."""
    key = storage_key(guard_settings(), policy, key_value)
    store_decide.reset_keys([key])
    bus.client_reset.publish(policy.name, key)


__all__ = ["adecide", "ausage", "decide", "reset", "usage"]
