"""Exact local denials: a client Redis denied is answered here, without a Redis command, until
the retry time Redis gave it (``LOCAL_DENIALS``, docs/performance.md).

Why this is exact. Redis denied hit ``h`` (a storage key, algorithm, limit, window, cost) at its
clock ``t0`` with retry ``r``. Whatever happens to that key until ``t0 + r`` only adds to it — other
requests counted, another process's outage counts merged — and every algorithm's verdict for the
same hit is monotone in what was counted: a fixed window denies until its window ends (``r`` is
that end), the sliding window's estimate only decays towards the first allowed millisecond ``r``
is computed to be, and the token bucket's theoretical arrival time only grows. So Redis would
deny the same hit again at any time before ``t0 + r`` — unless the key is deleted (an operator's
reset: ``bus.client_reset`` drops the answer in every process, through the fleet channel), evicted
by Redis's own ``maxmemory`` policy, or the policy's rate changes (a settings reload forgets every
answer). Only the *same* hit is denied here: a denial for cost 5 says nothing of cost 1.

Deadlines are measured from the monotonic time read before the request was sent (never later than
Redis's own clock read) and end ``MARGIN_MS`` plus ``RATE_MARGIN`` of the retry early: Redis reads
its clock in whole milliseconds, the sliding window's retry is a floating-point ceiling that may
round up by one, and two hosts' clocks may run at rates NTP lets differ by up to 500 ppm.

A request is all or nothing, as in Redis: one cached denial of a blocking hit denies it and counts
nothing. Its other policies report what Redis last answered for them (times counted down); if one
of them has no answer that is still current, Redis is asked instead (which refreshes every answer).
Shadow-mode hits (``block=False``) never deny locally.
"""

from __future__ import annotations

from collections.abc import Sequence

from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.algorithms import Verdict
from django_ratelimit_guard.core.decisions import Source
from django_ratelimit_guard.engine.plan import PlannedHit
from django_ratelimit_guard.stores import answers
from django_ratelimit_guard.stores.answers import AnswerMemory

MARGIN_MS = 2.0
RATE_MARGIN = 0.001
_KEEP = 1.0 - RATE_MARGIN

#: Requests this process denied locally (for the status page; the metric counts them by policy).
denied_total = 0


def denial(
    planned: Sequence[PlannedHit], memory: AnswerMemory, count: bool
) -> list[tuple[Verdict, Source]] | None:
    """What Redis would answer for ``planned`` when one of its blocking hits is one that Redis
    denied and whose retry time has not come; None: ask Redis."""
    now: float | None = None
    for p in planned:
        hit = p.hit
        if not hit.block:
            continue
        answer = memory.get(hit.key)
        if answer is None:
            continue
        retry = answer[1][3]
        if not retry:
            continue
        cached = answer[0]
        if cached is not hit and cached != hit:
            continue
        if now is None:
            now = answers.clock()
        if (now - answer[2]) * 1000.0 < retry * _KEEP - MARGIN_MS:
            break
    else:
        return None
    assert now is not None
    outcome = _outcome(planned, memory, now)
    if outcome is not None and count:
        global denied_total
        denied_total += 1
        bus.local_denial.publish(p.policy.name)
    return outcome


def _outcome(
    planned: Sequence[PlannedHit], memory: AnswerMemory, now: float
) -> list[tuple[Verdict, Source]] | None:
    out: list[tuple[Verdict, Source]] = []
    for p in planned:
        answer = memory.get(p.hit.key)
        if answer is None:
            return None
        hit, verdict, at = answer
        if hit is not p.hit and hit != p.hit:
            return None
        elapsed = (now - at) * 1000.0
        remaining, reset, retry = verdict[1], verdict[2], verdict[3]
        if elapsed >= reset - MARGIN_MS:
            return None  # its window (or bucket) has turned over since: no longer current
        if retry and elapsed >= retry * _KEEP - MARGIN_MS:
            return None  # a denial whose time has come: Redis may allow it now
        e = int(elapsed)
        out.append(
            (
                Verdict(not retry, remaining, max(0, reset - e), max(1, retry - e) if retry else 0),
                "redis",
            )
        )
    return out


__all__ = ["MARGIN_MS", "RATE_MARGIN", "denial", "denied_total"]
