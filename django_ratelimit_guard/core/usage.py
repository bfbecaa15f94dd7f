"""What is left *now*, from a peek's verdict (``get_usage``).

A peek (``count=False``) runs the same algorithm as a counted hit, without the write: its verdict
describes the state *after* a hypothetical next hit of ``cost`` units. ``get_usage`` reports the
state before it — after 2 of 3 requests, 1 remains, not 0 — and whether that next hit would pass.
Deriving it here from the verdict keeps one algorithm (``algorithms.py`` and its Lua twin) for
counting and peeking alike.

* An allowed peek left ``remaining`` after the hit: ``remaining + cost`` are left now (for the
  windows exactly ``limit - estimate``; for the token bucket ``floor(room / T) + cost``, the
  whole tokens before the hit — a property test holds both to the number of unit requests the
  algorithm would admit now). The token bucket's reset (full again) is ``T * cost`` sooner.
* A rejected peek already reports the state now: nothing was (or would be) taken.
"""

from __future__ import annotations

from django_ratelimit_guard.core.algorithms import Algorithm, Verdict


def verdict_now(
    verdict: Verdict, algorithm: Algorithm, limit: int, window_ms: int, cost: int
) -> Verdict:
    """The peek ``verdict`` of a ``cost`` hit against ``limit`` per ``window_ms``, as of now."""
    if not verdict.allowed:
        return verdict
    remaining = min(limit, verdict.remaining + cost)
    reset_ms = verdict.reset_ms
    if algorithm is Algorithm.TOKEN_BUCKET:
        reset_ms = max(0, round(reset_ms - window_ms / limit * cost))
    return Verdict(True, remaining, reset_ms, 0)


__all__ = ["verdict_now"]
