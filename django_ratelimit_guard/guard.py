"""Between the limiter and the stores: which store decides each hit, and with what source.

The limiter hands over every planned hit of one request; this module sends them to the store of
their scope in one call and labels each verdict with its source. The resilience layer (breaker,
fallback store, fail modes, reconciliation) plugs in here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django_ratelimit_guard.algorithms import Hit, Verdict
from django_ratelimit_guard.conf import guard_settings, on_reload
from django_ratelimit_guard.decisions import Source
from django_ratelimit_guard.policies import Policy
from django_ratelimit_guard.rates import Rate
from django_ratelimit_guard.stores.redis import RedisStore


@dataclass(frozen=True, slots=True)
class PlannedHit:
    """A hit together with what the fail modes need to know about its policy."""

    hit: Hit
    policy: Policy
    rate: Rate
    fallback: Rate  # the per-process rate the memory fallback enforces


_stores: dict[str, RedisStore] = {}


@on_reload
def _forget_stores() -> None:
    _stores.clear()


def redis_store(alias: str | None = None) -> RedisStore:
    """The Redis store of a cache alias (default: ``CACHE_ALIAS``), created once per process."""
    alias = alias or guard_settings().cache_alias
    store = _stores.get(alias)
    if store is None:
        store = _stores[alias] = RedisStore(alias)
    return store


def decide(planned: Sequence[PlannedHit], *, count: bool = True) -> list[tuple[Verdict, Source]]:
    """Decide every planned hit of one request in one store call."""
    verdicts = redis_store().hit_many([p.hit for p in planned], count=count)
    return [(v, "redis") for v in verdicts]


async def adecide(planned: Sequence[PlannedHit], *, count: bool = True) -> list[tuple[Verdict, Source]]:
    verdicts = await redis_store().ahit_many([p.hit for p in planned], count=count)
    return [(v, "redis") for v in verdicts]


def reset_keys(keys: Sequence[str]) -> None:
    """Forget the counters under ``keys`` in every store that may hold them."""
    redis_store().reset(keys)
