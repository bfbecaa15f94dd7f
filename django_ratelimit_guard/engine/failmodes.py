"""What a policy does while its store can't be used: its fail mode, per planned hit.

* ``memory``: decided by the process-wide fallback store at the fallback rate (source ``memory``);
* ``closed``: denied unchecked (source ``closed``; the HTTP layer answers 503 + Retry-After);
* ``open``: allowed unchecked (source ``open``).

All or nothing, as in Redis: a request that a ``closed`` blocking policy denies consumes no
budget in memory either. A client the fallback has no entry for starts from what Redis last
answered about it (``continuity.py``), not from a fresh budget.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.algorithms import Verdict
from django_ratelimit_guard.core.decisions import Source
from django_ratelimit_guard.core.policies import FailMode
from django_ratelimit_guard.engine import continuity
from django_ratelimit_guard.engine.plan import PlannedHit
from django_ratelimit_guard.stores.answers import answer_memory
from django_ratelimit_guard.stores.fallback import fallback_store


def fail_modes(
    planned: Sequence[PlannedHit], count: bool, retry_after: float
) -> list[tuple[Verdict, Source]]:
    """Decide ``planned`` by their policies' fail modes; ``retry_after`` (seconds until the
    breaker's next probe) is what a ``closed`` policy asks the client to wait, at least 1 s — and
    with health checks on (``recovery.py``), at most their interval: a passing check makes the
    probe due at once, whatever the backoff."""
    out: list[tuple[Verdict, Source] | None] = [None] * len(planned)
    memory: list[int] = []
    denied = False
    for i, p in enumerate(planned):
        mode = p.policy.fail_mode
        if mode is FailMode.MEMORY:
            memory.append(i)
        elif mode is FailMode.CLOSED:
            check = guard_settings().breaker.health_check_seconds
            wait = min(retry_after, check) if check > 0 else retry_after
            retry_ms = max(1000, int(wait * 1000))
            out[i] = (Verdict(False, 0, retry_ms, retry_ms), "closed")
            denied = denied or p.policy.block
        else:
            out[i] = (Verdict(True, max(0, p.hit.limit - p.hit.cost), p.hit.window_ms, 0), "open")
    if memory:
        in_memory = [planned[i] for i in memory]
        hits = [continuity.fallback_hit(p) for p in in_memory]
        store = fallback_store()
        continuity.seed(in_memory, hits, store, answer_memory())
        started = time.perf_counter()
        verdicts = store.hit_many(hits, count=count and not denied)
        bus.store_latency.publish("memory", time.perf_counter() - started)
        for i, verdict in zip(memory, verdicts, strict=True):
            out[i] = (verdict, "memory")
    return [item for item in out if item is not None]


__all__ = ["fail_modes"]
