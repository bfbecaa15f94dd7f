"""Concurrency slots in this process: the memory fallback of ``lua/concurrency.lua`` (issue #15).

The same contract as the script — per key a set of leases with expiries, expired leases dropped
before counting, all or nothing across the keys of one request, a full shadow-mode key skipped —
with a lock instead of Redis's atomicity. Per process by nature: ``engine/concurrency.py`` gives
each process ``ceil(N / FALLBACK['WORKERS'])`` slots, as the rate fallback does. Memory is bounded
by the requests in flight: a key with no lease left is deleted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from django_ratelimit_guard.conf.settings import on_reload


class MemorySlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, dict[str, float]] = {}  # key -> lease id -> expiry (monotonic s)

    def acquire(
        self,
        keys: Sequence[str],
        lease: str,
        limits: Sequence[int],
        timeouts: Sequence[float],
        blocks: Sequence[bool],
        *,
        now: float | None = None,
    ) -> tuple[bool, list[tuple[int, bool]]]:
        """``(granted, (in flight, had room) per key)``, as ``concurrency.lua`` answers."""
        now = time.monotonic() if now is None else now
        with self._lock:
            held: list[int] = []
            room: list[bool] = []
            granted = True
            for key, limit, block in zip(keys, limits, blocks, strict=True):
                leases = self._sets.get(key)
                if leases:
                    for expired in [k for k, t in leases.items() if t <= now]:
                        del leases[expired]
                count = len(leases) if leases else 0
                held.append(count)
                room.append(count < limit)
                if count >= limit and block:
                    granted = False
            if granted:
                for i, (key, timeout) in enumerate(zip(keys, timeouts, strict=True)):
                    if room[i]:
                        self._sets.setdefault(key, {})[lease] = now + timeout
                        held[i] += 1
            for key in keys:
                if not self._sets.get(key, True):
                    del self._sets[key]
            return granted, list(zip(held, room, strict=True))

    def release(self, keys: Sequence[str], lease: str) -> int:
        removed = 0
        with self._lock:
            for key in keys:
                leases = self._sets.get(key)
                if leases is not None and leases.pop(lease, None) is not None:
                    removed += 1
                    if not leases:
                        del self._sets[key]
        return removed

    def held(self, key: str, *, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            return sum(1 for t in self._sets.get(key, {}).values() if t > now)

    def reset(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._sets.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()

    @property
    def entries(self) -> int:
        return len(self._sets)


_slots = MemorySlots()


def memory_slots() -> MemorySlots:
    """This process's slots (emptied when the settings change)."""
    return _slots


@on_reload
def _forget() -> None:
    _slots.clear()


__all__ = ["MemorySlots", "memory_slots"]
