"""A client's budget carried across an outage, into the fallback and back (docs/resilience.md).

**Into the outage.** The memory fallback enforces each policy per process at its fallback rate
(``ceil(limit / FALLBACK['WORKERS'])`` unless the policy sets ``fallback_rate``). A client it has
no entry for starts from what Redis last told this process about that client — if that answer is
still current (its window, or the bucket's refill, has not turned over): with ``R`` of ``limit``
remaining, the client starts with ``ceil(R × fallback limit / limit)`` — its share of what is left,
not of the whole limit. What Redis had already counted is marked merged, so recovery merges only
what memory counts on top.

**Back from it.** A process whose breaker closes merges its own counts; the others merge at their
own first probe, up to ``BREAKER['MAX_RESET_TIMEOUT']`` (and its jitter) later, so for a while
Redis has not seen every process's outage counts. For that long after this process last used the
fallback (at most two windows), a hit whose client has a live entry in this process's fallback
store is held to both: Redis decides as usual, and the request is denied (counting nothing) if
that entry's share is spent; an allowed request is counted in the entry too, as already merged.
So no process hands out a fresh budget to a client the outage already counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core.algorithms import Algorithm, Hit, State, Verdict
from django_ratelimit_guard.core.decisions import Source
from django_ratelimit_guard.core.policies import FailMode
from django_ratelimit_guard.engine.plan import PlannedHit
from django_ratelimit_guard.stores import answers
from django_ratelimit_guard.stores.answers import AnswerMemory
from django_ratelimit_guard.stores.fallback import fallback_store
from django_ratelimit_guard.stores.memory import MemoryStore

Outcome = list[tuple[Verdict, Source]]

#: Monotonic time until which hits of clients with a live fallback entry are held to it too.
hold_until = 0.0


def fallback_hit(p: PlannedHit) -> Hit:
    hit = p.hit
    return Hit(hit.key, hit.algorithm, p.fallback.limit, p.fallback.window_ms, hit.cost, hit.block)


def share(remaining: int, limit: int, fallback_limit: int) -> int:
    """A process's part of ``remaining`` (of ``limit`` in Redis) at its fallback limit."""
    return min(fallback_limit, -(-max(0, remaining) * fallback_limit // limit))


def seed_state(fallback: Hit, answer: answers.Answer, now_ms: int, now: float) -> tuple[State, int]:
    """The fallback state (and its TTL, ms) of a client Redis last answered with ``answer``; a
    state with nothing used when that answer is no longer current."""
    redis_hit, verdict, at = answer
    limit, window = fallback.limit, fallback.window_ms
    left = limit
    if (now - at) * 1000.0 < verdict.reset_ms:
        left = share(verdict.remaining, redis_hit.limit, limit)
    if fallback.algorithm is Algorithm.TOKEN_BUCKET:
        tat = now_ms + window - left * (window / limit)
        return max(float(now_ms), tat), max(1, math.ceil(tat - now_ms))
    w = now_ms // window
    rem = window - (now_ms - w * window)
    ttl = window + rem if fallback.algorithm is Algorithm.SLIDING_WINDOW else rem
    return (w, limit - left, 0), ttl


def seed(
    planned: Sequence[PlannedHit], hits: Sequence[Hit], store: MemoryStore, memory: AnswerMemory
) -> None:
    """Start the fallback entries of ``planned`` (memory-mode hits, as fallback ``hits``) that do
    not exist yet from what Redis last answered; and hold this process's recovery to them."""
    global hold_until
    now = answers.clock()
    now_ms = int(time.time() * 1000)
    entries = []
    longest = 0
    for p, hit in zip(planned, hits, strict=True):
        longest = max(longest, hit.window_ms, p.hit.window_ms)
        answer = memory.get(hit.key)
        if answer is not None and not store.live(hit.key, now_ms):
            state, ttl = seed_state(hit, answer, now_ms, now)
            entries.append((hit, state, ttl))
    if entries:
        store.seed(entries, now_ms=now_ms)
    # Every other process merges at its first probe, at most MAX_RESET_TIMEOUT (and its jitter)
    # after its last failure; and nothing outlives two windows (a sliding window still weighs the
    # previous one).
    breaker = guard_settings().breaker
    hold = min(2 * longest / 1000, breaker.max_reset_timeout * (1 + breaker.jitter))
    hold_until = max(hold_until, now + hold)


def held(planned: Sequence[PlannedHit]) -> list[tuple[int, Hit]] | None:
    """The memory-mode hits whose client has a live entry in this process's fallback store
    (while recovering from an outage), as (index, fallback hit); None: none."""
    store = fallback_store()
    now_ms = int(time.time() * 1000)
    out = [
        (i, fallback_hit(p))
        for i, p in enumerate(planned)
        if p.policy.fail_mode is FailMode.MEMORY and store.live(p.hit.key, now_ms)
    ]
    return out or None


def check_share(hold: list[tuple[int, Hit]]) -> list[Verdict] | None:
    """The fallback's verdicts for the held hits if their share denies the request (a blocking
    hit over it), else None."""
    verdicts = fallback_store().hit_many([hit for _, hit in hold], count=False)
    if any(hit.block and not v.allowed for (_, hit), v in zip(hold, verdicts, strict=True)):
        return verdicts
    return None


def settle(
    planned: Sequence[PlannedHit],
    hold: list[tuple[int, Hit]],
    denied_by_share: list[Verdict] | None,
    outcome: Outcome,
    count: bool,
) -> Outcome:
    """Redis's ``outcome`` for a request with held hits: where the share denies what Redis allowed
    (Redis was only asked to peek), the share's verdict replaces Redis's; an allowed, counted
    request counts in the share."""
    if denied_by_share is not None:
        for (i, hit), verdict in zip(hold, denied_by_share, strict=True):
            if hit.block and not verdict.allowed and outcome[i][0].allowed:
                outcome[i] = (verdict, "memory")
        return outcome
    if count and not any(
        p.hit.block and not v.allowed for p, (v, _) in zip(planned, outcome, strict=True)
    ):
        # Only what Redis decided: a hit the fallback decided (an outage) is counted there already.
        counted = [hit for i, hit in hold if outcome[i][1] == "redis"]
        if counted:
            fallback_store().hit_many(counted, synced=True)
    return outcome


@on_reload
def _forget() -> None:
    global hold_until
    hold_until = 0.0  # the fallback store is rebuilt: nothing to hold to


__all__ = ["check_share", "fallback_hit", "held", "hold_until", "seed", "seed_state", "settle"]
