"""From a request and its policies to storage hits: which policies apply, at which rate, to which
client's counter, at what cost (``plan``). Nothing here does I/O.

Most requests come from the same few thousand clients under a few fixed policies, so the planned
hit of a fixed rate and cost is cached per (policy, client), and a key that several policies
share is resolved once per request (docs/performance.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import NamedTuple

from django.http import HttpRequest

from django_ratelimit_guard.conf.sections import GuardSettings
from django_ratelimit_guard.conf.settings import on_reload
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.algorithms import Hit
from django_ratelimit_guard.core.keys import hash_key_value
from django_ratelimit_guard.core.policies import MAX_COST, Policy, cached_rate
from django_ratelimit_guard.core.rates import Rate, RateError
from django_ratelimit_guard.engine import exemptions

logger = logging.getLogger("django_ratelimit_guard")


class PlannedHit(NamedTuple):
    """A hit together with what the fail modes need to know about its policy (a NamedTuple, as
    ``Hit`` is: one is built per policy per request)."""

    hit: Hit
    policy: Policy
    rate: Rate
    fallback: Rate  # the per-process rate the memory fallback enforces


def storage_key(config: GuardSettings, policy: Policy, key_value: str) -> str:
    """``<prefix>:{<digest>}:<policy>:<algorithm>``; the digest is the Redis Cluster hash tag.
    A concurrency policy's slot set ends in ``:cc`` (issue #15, engine/concurrency.py)."""
    code = "cc" if policy.concurrency is not None else policy.algorithm.code
    return _storage_key(config.key_prefix, config.key_secret, policy.name, code, key_value)


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
        logs.log(
            logger,
            logging.ERROR,
            f"plan:rate:{policy.name}",
            "Policy %r: its rate callable returned %r (%s); the policy is skipped.",
            policy.name,
            text,
            exc,
            extra={"policy": policy.name},
        )
        return None


def _cost(policy: Policy, request: HttpRequest) -> int:
    if isinstance(policy.cost, int):
        return policy.cost
    value = policy.cost(request)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COST:
        return value
    logs.log(
        logger,
        logging.ERROR,
        f"plan:cost:{policy.name}",
        "Policy %r: its cost callable returned %r; counted as 1.",
        policy.name,
        value,
        extra={"policy": policy.name},
    )
    return 1


@functools.lru_cache(maxsize=1024)
def _fallback_rate(policy: Policy, rate: Rate, workers: int) -> Rate:
    # Policies hash by identity and rates by value: one Rate per (policy, rate) instead of one
    # per request.
    return policy.fallback_limit(rate, workers)


@functools.lru_cache(maxsize=8192)
def _static_hit(
    policy: Policy, key_value: str, prefix: str, secret: bytes, workers: int
) -> PlannedHit:
    rate = policy.rate
    assert isinstance(rate, Rate)
    assert isinstance(policy.cost, int)
    key = _storage_key(prefix, secret, policy.name, policy.algorithm.code, key_value)
    hit = Hit(key, policy.algorithm, rate.limit, rate.window * 1000, policy.cost, policy.block)
    return PlannedHit(hit, policy, rate, policy.fallback_limit(rate, workers))


@on_reload
def _forget_planned() -> None:
    # New settings build new policies: let the old ones go.
    _static_hit.cache_clear()
    _fallback_rate.cache_clear()


_UNRESOLVED = object()


def plan(
    request: HttpRequest, policies: Iterable[Policy], config: GuardSettings
) -> list[PlannedHit]:
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
        if policy.screened and exemptions.exempt(policy, request, config.client_ip):
            continue  # issue #15: exempt_ips / skip_if (engine/exemptions.py)
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
        if (
            type(policy.cost) is int
            and rate is policy.rate
            and len(str(key_value)) <= CACHED_KEY_VALUE_LENGTH
        ):
            # A fixed rate and cost: the planned hit depends on nothing else, so the same few
            # thousand clients reuse theirs instead of building key, Hit and PlannedHit anew.
            planned.append(
                _static_hit(policy, str(key_value), config.key_prefix, config.key_secret, workers)
            )
            continue
        hit = Hit(
            _storage_key(
                config.key_prefix,
                config.key_secret,
                policy.name,
                policy.algorithm.code,
                key_value if type(key_value) is str else str(key_value),
            ),
            policy.algorithm,
            rate.limit,
            rate.window * 1000,
            policy.cost if type(policy.cost) is int else _cost(policy, request),
            policy.block,
        )
        planned.append(PlannedHit(hit, policy, rate, _fallback_rate(policy, rate, workers)))
    return planned


__all__ = ["CACHED_KEY_VALUE_LENGTH", "PlannedHit", "plan", "storage_key"]
