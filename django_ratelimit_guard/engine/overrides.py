"""Runtime overrides in this process (issue #15): the rule table the limiter consults.

Rules live in the database (``ops/overrides.py`` reads them in the fleet poll and hands them to
:func:`install`); here they are indexed by the storage key of the client they name, so a planned
hit finds its rule with one dict lookup. The limiter consults the table only when it is not
empty: a project without overrides pays one falsy check per decision.

What a rule does to its client's hit of its policy:

* ``block`` — the request is rejected in process, with ``Retry-After`` until the rule expires
  (``NO_EXPIRY_RETRY_AFTER`` without an expiry) and **no Redis call** (source ``"override"``);
* ``allow`` — the policy does not apply to the client (not counted, no header fields);
* ``rate`` — the client is counted at the rule's rate, on a counter of its own
  (``<storage key>:o<limit>-<window>``, same hash tag). Why its own: the policy's counter keeps
  the client's standing under the normal rate, so removing a raised rate mid-window returns the
  client to where it was (not to a counter inflated past the normal limit), and a window or
  algorithm change never reinterprets another rate's state.

An expired rule is ignored at lookup (``time.time()`` is read only when a rule matches) and
dropped at the next poll.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django_ratelimit_guard.conf.sections import GuardSettings
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.algorithms import Hit
from django_ratelimit_guard.core.decisions import Decision, new_decision
from django_ratelimit_guard.core.rates import Rate
from django_ratelimit_guard.engine import registry
from django_ratelimit_guard.engine.plan import PlannedHit, storage_key

BLOCK, ALLOW, RATE = "block", "allow", "rate"
ACTIONS = (BLOCK, ALLOW, RATE)
#: Retry-After of a block without an expiry: the client is asked to come back in an hour.
NO_EXPIRY_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class Rule:
    id: int
    policy: str
    key: str  # the normalized key value (core/key_values.py)
    action: str
    rate: Rate | None
    expires_at: float | None  # epoch seconds; None: until removed
    reason: str = ""

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


#: storage key -> rule, for the settings it was built with. Swapped whole, never mutated.
rules: dict[str, Rule] = {}
_source: tuple[Rule, ...] = ()
_built_for: GuardSettings | None = None


def override_key(key: str, rate: Rate) -> str:
    """The counter of a client under a ``rate`` rule (the hash tag stays the client's)."""
    return f"{key}:o{rate.limit}-{rate.window}"


def _index(source: Sequence[Rule], config: GuardSettings) -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for rule in source:
        try:
            policy = registry.get_policy(rule.policy)
        except KeyError:
            continue  # a policy no longer configured: shown on the status page, not applied
        if policy.concurrency is not None and rule.action == RATE:
            continue  # refused when added; a policy changed to concurrency since
        table[storage_key(config, policy, rule.key)] = rule
    return table


def install(source: Sequence[Rule]) -> list[tuple[str, str]]:
    """Make ``source`` this process's rules; return ``(policy, storage key)`` of every client
    whose rule appeared, changed or went away (for ``bus.client_reset``)."""
    global rules, _source, _built_for
    config = guard_settings()
    old = rules if _built_for is config else _index(_source, config)
    new = _index(source, config)
    _source, _built_for, rules = tuple(source), config, new
    return sorted(
        (rule.policy, key) for key, rule in {**old, **new}.items() if old.get(key) != new.get(key)
    )


def current() -> tuple[Rule, ...]:
    """Every rule this process holds (as last read from the database)."""
    return _source


def apply(
    planned: list[PlannedHit], config: GuardSettings
) -> tuple[list[PlannedHit], list[Decision]]:
    """The planned hits with their clients' rules applied, and the decisions rules made alone
    (blocks). Called only when ``rules`` is not empty."""
    global rules, _built_for
    table = rules
    if _built_for is not config:  # the settings changed since: storage keys may differ
        table = rules = _index(_source, config)
        _built_for = config
    out: list[PlannedHit] = []
    ruled: list[Decision] = []
    now = 0.0
    for p in planned:
        rule = table.get(p.hit.key)
        if rule is None:
            out.append(p)
            continue
        now = now or time.time()
        if not rule.active(now):
            out.append(p)
        elif rule.action == BLOCK:
            wait = NO_EXPIRY_RETRY_AFTER if rule.expires_at is None else rule.expires_at - now
            wait = max(1.0, wait)
            ruled.append(
                new_decision(
                    p.policy.name,
                    False,
                    p.hit.limit,
                    0,
                    wait,
                    wait,
                    "override",
                    p.rate.window,
                    p.hit.block,
                )
            )
        elif rule.action == RATE and rule.rate is not None:
            rate = rule.rate
            hit = p.hit
            out.append(
                PlannedHit(
                    Hit(
                        override_key(hit.key, rate),
                        hit.algorithm,
                        rate.limit,
                        rate.window_ms,
                        hit.cost,
                        hit.block,
                    ),
                    p.policy,
                    rate,
                    Rate(max(1, math.ceil(rate.limit / config.fallback.workers)), rate.window),
                )
            )
        # ALLOW: the policy does not apply to this client.
    return out, ruled


def forget() -> None:
    """Drop every rule (tests; the next poll reads them again)."""
    global rules, _source, _built_for
    rules, _source, _built_for = {}, (), None


__all__ = [
    "ACTIONS",
    "ALLOW",
    "BLOCK",
    "NO_EXPIRY_RETRY_AFTER",
    "RATE",
    "Rule",
    "apply",
    "current",
    "forget",
    "install",
    "override_key",
    "rules",
]
