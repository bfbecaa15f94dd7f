"""The decision path: from a request and its policies to a :class:`Result`, in one store call.

``plan`` resolves each policy for this request (method, rate, key, cost) into a storage hit;
``guard.decide`` runs all hits in one round trip; ``_finish`` turns verdicts into decisions and
tells the observers (signals, metrics). Nothing here knows HTTP responses or Lua.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence

from asgiref.sync import sync_to_async
from django.http import HttpRequest

from django_ratelimit_guard import guard, signals
from django_ratelimit_guard.algorithms import Hit, Verdict
from django_ratelimit_guard.conf import GuardSettings, guard_settings, on_reload
from django_ratelimit_guard.decisions import Result, Source, new_decision
from django_ratelimit_guard.keys import hash_key_value
from django_ratelimit_guard.policies import MAX_COST, Policy, cached_rate
from django_ratelimit_guard.rates import Rate, RateError

logger = logging.getLogger("django_ratelimit_guard")

#: Called with (request, result) after every decision that counted; metrics and signals hook in.
Observer = Callable[[HttpRequest, Result], None]
observers: list[Observer] = []


def storage_key(config: GuardSettings, policy: Policy, key_value: str) -> str:
    """``<prefix>:{<digest>}:<policy>:<algorithm>``; the digest is the Redis Cluster hash tag."""
    return _storage_key(config.key_prefix, config.key_secret, policy.name, policy.algorithm.code, key_value)


#: Longer key values (a client-chosen header, say) bypass the caches below, so that a flood of
#: huge distinct values cannot pin megabytes of them in memory.
CACHED_KEY_VALUE_LENGTH = 256


def _storage_key(prefix: str, secret: bytes, name: str, code: str, key_value: str) -> str:
    if len(key_value) > CACHED_KEY_VALUE_LENGTH:
        return _make_storage_key(prefix, secret, name, code, key_value)
    return _cached_storage_key(prefix, secret, name, code, key_value)


def _make_storage_key(prefix: str, secret: bytes, name: str, code: str, key_value: str) -> str:
    return f"{prefix}:{{{hash_key_value(key_value, secret)}}}:{name}:{code}"


_cached_storage_key = functools.lru_cache(maxsize=8192)(_make_storage_key)


def _rate(policy: Policy, request: HttpRequest) -> Rate | None:
    if isinstance(policy.rate, Rate):
        return policy.rate
    text = policy.rate(request)
    if text is None:
        return None
    try:
        return cached_rate(text)
    except RateError as exc:
        logger.error("Policy %r: its rate callable returned %r (%s); the policy is skipped.",
                     policy.name, text, exc, extra={"policy": policy.name})
        return None


def _cost(policy: Policy, request: HttpRequest) -> int:
    if isinstance(policy.cost, int):
        return policy.cost
    value = policy.cost(request)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COST:
        return value
    logger.error("Policy %r: its cost callable returned %r; counted as 1.", policy.name, value,
                 extra={"policy": policy.name})
    return 1


@functools.lru_cache(maxsize=1024)
def _fallback_rate(policy: Policy, rate: Rate, workers: int) -> Rate:
    # Policies hash by identity and rates by value: one Rate per (policy, rate) instead of one
    # per request.
    return policy.fallback_limit(rate, workers)


@functools.lru_cache(maxsize=8192)
def _static_hit(policy: Policy, key_value: str, prefix: str, secret: bytes, workers: int) -> guard.PlannedHit:
    rate = policy.rate
    assert isinstance(rate, Rate)
    assert isinstance(policy.cost, int)
    key = _storage_key(prefix, secret, policy.name, policy.algorithm.code, key_value)
    hit = Hit(key, policy.algorithm, rate.limit, rate.window * 1000, policy.cost, policy.block)
    return guard.PlannedHit(hit, policy, rate, policy.fallback_limit(rate, workers))


@on_reload
def _forget_planned() -> None:
    # New settings build new policies: let the old ones go.
    _static_hit.cache_clear()
    _fallback_rate.cache_clear()


_UNRESOLVED = object()


def plan(request: HttpRequest, policies: Iterable[Policy], config: GuardSettings) -> list[guard.PlannedHit]:
    """Resolve the policies that apply to this request into storage hits."""
    planned = []
    seen: set[str] = set()
    method = request.method
    workers = config.fallback.workers
    key_values: dict[str, object] = {}  # spec -> value, for keys several policies share
    for policy in policies:
        if policy.name in seen or not policy.applies_to_method(method):
            continue
        if policy.exempt_paths and policy.is_exempt_path(request.path_info):
            continue
        seen.add(policy.name)
        rate = policy.rate if type(policy.rate) is Rate else _rate(policy, request)
        if rate is None:
            continue
        key = policy.key
        if key.shared:
            key_value = key_values.get(key.spec, _UNRESOLVED)
            if key_value is _UNRESOLVED:
                key_value = key_values[key.spec] = key.func(request)
        else:
            key_value = key.func(request)
        if key_value is None:
            continue
        if type(policy.cost) is int and rate is policy.rate and len(str(key_value)) <= CACHED_KEY_VALUE_LENGTH:
            # A fixed rate and cost: the planned hit depends on nothing else, so the same few
            # thousand clients reuse theirs instead of building key, Hit and PlannedHit anew.
            planned.append(_static_hit(policy, str(key_value), config.key_prefix, config.key_secret, workers))
            continue
        hit = Hit(
            _storage_key(config.key_prefix, config.key_secret, policy.name, policy.algorithm.code,
                         key_value if type(key_value) is str else str(key_value)),
            policy.algorithm,
            rate.limit,
            rate.window * 1000,
            policy.cost if type(policy.cost) is int else _cost(policy, request),
            policy.block,
        )
        planned.append(guard.PlannedHit(hit, policy, rate, _fallback_rate(policy, rate, workers)))
    return planned


def _needs_sync_context(policies: Sequence[Policy]) -> bool:
    """Whether resolving these policies may touch sync-only code (user callables, the ORM)."""
    return any(
        not isinstance(p.rate, Rate) or not isinstance(p.cost, int) or p.key.uses_user
        or (p.key.spec not in ("ip", "api_key") and not p.key.spec.startswith(("header:", "param:")))
        for p in policies
    )


def _finish(
    request: HttpRequest, planned: Sequence[guard.PlannedHit], outcome: Sequence[tuple[Verdict, Source]], count: bool
) -> Result:
    # Positional arguments: this runs once per policy per request (see Decision's fields).
    result = Result([
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
    ])
    if count:
        for observer in observers:
            observer(request, result)
    return result


def _send_limited(request: HttpRequest, result: Result) -> None:
    signals.request_limited.send(sender=Result, request=request, decision=result.decision)


def decide(request: HttpRequest, policies: Sequence[Policy], *, count: bool = True) -> Result:
    """Decide ``policies`` for ``request`` — all of them in one store round trip."""
    config = guard_settings()
    if not config.enabled or not policies:
        return Result()
    planned = plan(request, policies, config)
    if not planned:
        return Result()
    result = _finish(request, planned, guard.decide(planned, count=count), count)
    if count and result.rejected:
        _send_limited(request, result)
    return result


async def adecide(request: HttpRequest, policies: Sequence[Policy], *, count: bool = True) -> Result:
    """The async twin of :func:`decide`; never blocks the event loop on Redis."""
    config = guard_settings()
    if not config.enabled or not policies:
        return Result()
    if _needs_sync_context(policies):
        planned = await sync_to_async(plan)(request, policies, config)
    else:
        planned = plan(request, policies, config)
    if not planned:
        return Result()
    result = _finish(request, planned, await guard.adecide(planned, count=count), count)
    if count and result.rejected:
        # Receivers may be sync-only code (the ORM); rejections are rare, the hop is fine.
        await sync_to_async(_send_limited)(request, result)
    return result


def reset(policy: Policy, key_value: str) -> None:
    """Forget one client's counter of ``policy``, in Redis and in the fallback store."""
    guard.reset_keys([storage_key(guard_settings(), policy, key_value)])
