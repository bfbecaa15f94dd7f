"""The in-process fallback store: the same algorithms as Redis, bounded, O(1) per operation.

Entries live in a slab of parallel arrays (one slot per entry) threaded on two circular
doubly-linked lists: *normal* and *protected* (entries over, or exactly at, their limit). Each
operation touches a constant number of slots — no scan, no sort — at any fill level.

When a new key needs a slot and the store is full, it takes, in order:
1. an expired entry found by a clock hand that inspects ``SWEEP`` slots per eviction (so every
   slot is looked at once per ``capacity / SWEEP`` evictions; expired entries go first);
2. the least recently used *normal* entry;
3. the least recently used *protected* entry — only when every entry is over its limit — so
   flooding new keys cannot reset a blocked client.

Parallel ``array`` columns keep an entry near 230 bytes including its key (``bench/resilience.py``
measures it), where a dict of objects per entry would cost twice that.
"""

from __future__ import annotations

import logging
import threading
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from django_ratelimit_guard.core.algorithms import Algorithm, Hit, State, Verdict, decide_many
from django_ratelimit_guard.core.exceptions import StoreClosedError

logger = logging.getLogger("django_ratelimit_guard")

NORMAL, PROTECTED = 0, 1  # the sentinel slots heading each list
FIRST_SLOT = 2
SWEEP = 4
_KIND = {Algorithm.FIXED_WINDOW: 1, Algorithm.SLIDING_WINDOW: 2, Algorithm.TOKEN_BUCKET: 3}
_ALGORITHM = {code: algorithm for algorithm, code in _KIND.items()}
_PROTECTED_FLAG = 4
EVICTION_REASONS = ("expired", "lru", "blocked")


@dataclass(frozen=True, slots=True)
class Counted:
    """One counter taken in memory, as exported for reconciliation with Redis."""

    key: str
    algorithm: Algorithm
    state: State  # what Redis has not seen yet: (window index, count, previous count) or a TAT (ms)
    window_ms: int
    blocked: bool
    counted: State  # the entry's whole state when exported; mark_merged() records it


class MemoryStore:
    """Counters in this process. Thread-safe; O(1) per operation (clear and export are O(n))."""

    def __init__(
        self, max_entries: int = 50_000, warn_ratio: float = 0.8, *, scope: str = "memory"
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.scope = scope
        self.capacity = max_entries
        self.warn_ratio = warn_ratio
        self.evictions: dict[str, int] = dict.fromkeys(EVICTION_REASONS, 0)
        self._lock = threading.Lock()
        self._closed = False
        self._warned = False
        self._reset_slab()

    def _reset_slab(self) -> None:
        self._index: dict[str, int] = {}
        self._keys: list[str | None] = [None, None]
        self._prev = array("i", [NORMAL, PROTECTED])  # each sentinel starts as an empty circle
        self._next = array("i", [NORMAL, PROTECTED])
        self._a = array("d", [0.0, 0.0])  # window index, or the token bucket's TAT (ms)
        self._b = array("q", [0, 0])  # count in the current window
        self._c = array("q", [0, 0])  # count in the previous window
        self._window = array("i", [0, 0])  # window_ms (at most 7 days: fits in 32 bits)
        self._expires = array("d", [0.0, 0.0])  # epoch ms
        self._flags = array("b", [0, 0])  # 0 free, else algorithm kind | _PROTECTED_FLAG
        # What reconciliation already merged into Redis: (window index or TAT, count, previous).
        self._synced_a = array("d", [0.0, 0.0])
        self._synced_b = array("i", [0, 0])
        self._synced_c = array("i", [0, 0])
        self._free = -1  # a chain of free slots, linked through _next
        self._hand = FIRST_SLOT

    # -- the Store contract ---------------------------------------------------------------------

    def hit_many(
        self,
        hits: Sequence[Hit],
        *,
        count: bool = True,
        now_ms: int | None = None,
        synced: bool = False,
    ) -> list[Verdict]:
        """``synced``: Redis counted these hits too (``engine/continuity.py``): an entry with
        nothing left to merge stays so."""
        if self._closed:
            raise StoreClosedError("The memory fallback store is closed.")
        if not hits:
            return []
        now = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            if self._closed:
                raise StoreClosedError("The memory fallback store is closed.")
            index = self._index
            slots = [index.get(hit.key) for hit in hits]
            states = [None if slot is None else self._state(slot, now) for slot in slots]
            verdicts, writes = decide_many(hits, states, now)
            if not count:
                return verdicts
            by_key = {hit.key: hit for hit in hits}
            in_sync = synced and {
                hit.key
                for hit, slot, state in zip(hits, slots, states, strict=True)
                if slot is None or state is None or self._unmerged(slot, state, now) is None
            }
            for write in writes:
                slot = index.get(write.key)
                if slot is None:
                    slot = self._allocate(write.key, now)
                self._store(slot, by_key[write.key], write.state, now + write.ttl_ms)
                if in_sync and write.key in in_sync:
                    self._mark_synced(slot, write.state)
            for hit, verdict in zip(hits, verdicts, strict=True):
                slot = index.get(hit.key)
                if slot is not None:
                    exhausted = not verdict.allowed or verdict.remaining <= 0
                    self._touch(slot, PROTECTED if exhausted else NORMAL)
            return verdicts

    async def ahit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        # Pure CPU for a few microseconds: a thread hop would cost more than the work.
        return self.hit_many(hits, count=count, now_ms=now_ms)

    def reset(self, keys: Sequence[str]) -> None:
        self._check_open()
        with self._lock:
            for key in keys:
                slot = self._index.get(key)
                if slot is not None:
                    self._remove(slot, None)

    # -- introspection and lifecycle ------------------------------------------------------------

    @property
    def entries(self) -> int:
        return len(self._index)

    def live_entries(self, now_ms: float | None = None) -> int:
        """Entries not expired yet: an expired entry is free room (a new key takes it first),
        though it keeps its slot until then. O(n) outside the lock (a copy of the slots is
        taken under it): for the gauges and the status page, never the request path."""
        now = time.time() * 1000 if now_ms is None else now_ms
        with self._lock:
            slots = list(self._index.values())
            expires = self._expires
        return sum(1 for slot in slots if expires[slot] > now)

    @property
    def fill_ratio(self) -> float:
        return len(self._index) / self.capacity

    def clear(self) -> None:
        """Forget every counter (admin action); eviction counters are kept."""
        self._check_open()
        with self._lock:
            self._reset_slab()
            self._warned = False

    def close(self) -> None:
        """Release the memory; any later use raises StoreClosedError."""
        with self._lock:
            self._closed = True
            self._reset_slab()

    def export_unmerged(
        self, limit: int | None = None, *, now_ms: int | None = None
    ) -> list[Counted]:
        """The counts Redis has not seen, blocked clients first, most recent first.

        Entries stay in memory (a client blocked during this outage stays blocked in the next);
        after a successful merge, :meth:`mark_merged` records what was merged, so the next export
        carries only what was counted since.
        """
        self._check_open()
        now = int(time.time() * 1000) if now_ms is None else now_ms
        out: list[Counted] = []
        with self._lock:
            for head in (PROTECTED, NORMAL):
                slot = self._prev[head]
                while slot != head and (limit is None or len(out) < limit):
                    state = self._state(slot, now)
                    if state is not None:
                        delta = self._unmerged(slot, state, now)
                        if delta is not None:
                            flags = self._flags[slot]
                            out.append(
                                Counted(
                                    self._keys[slot] or "",
                                    _ALGORITHM[flags & 3],
                                    delta,
                                    self._window[slot],
                                    bool(flags & _PROTECTED_FLAG),
                                    state,
                                )
                            )
                    slot = self._prev[slot]
        return out

    def mark_merged(self, entries: Sequence[Counted]) -> None:
        """Record that ``entries`` (from :meth:`export_unmerged`) are now counted in Redis."""
        with self._lock:
            for entry in entries:
                slot = self._index.get(entry.key)
                if slot is not None:
                    self._mark_synced(slot, entry.counted)

    def seed(self, entries: Sequence[tuple[Hit, State, int]], *, now_ms: int | None = None) -> int:
        """Start each ``(hit, state, ttl_ms)`` whose key has no live entry from ``state``, as
        counted in Redis already (``engine/continuity.py``). Returns how many were seeded."""
        self._check_open()
        now = int(time.time() * 1000) if now_ms is None else now_ms
        seeded = 0
        with self._lock:
            index = self._index
            for hit, state, ttl_ms in entries:
                slot = index.get(hit.key)
                if slot is not None and self._state(slot, now) is not None:
                    continue
                if slot is None:
                    slot = self._allocate(hit.key, now)
                self._store(slot, hit, state, now + ttl_ms)
                self._mark_synced(slot, state)
                self._touch(slot, NORMAL)
                seeded += 1
        return seeded

    def live(self, key: str, now_ms: int) -> bool:
        """Whether ``key`` has an entry that has not expired (no lock: a hint, not a decision)."""
        slot = self._index.get(key)
        return slot is not None and self._expires[slot] > now_ms

    def _mark_synced(self, slot: int, state: State) -> None:
        if isinstance(state, tuple):
            self._synced_a[slot], self._synced_b[slot], self._synced_c[slot] = state
        else:
            self._synced_a[slot] = state

    def _unmerged(self, slot: int, state: State, now: int) -> State | None:
        synced = self._synced_a[slot]
        if isinstance(state, float):
            already = max(0.0, synced - now) if synced >= 0 else 0.0
            tat = state - already
            return tat if tat > now else None
        w, c, p = state
        if synced == w:
            delta = (w, max(0, c - self._synced_b[slot]), max(0, p - self._synced_c[slot]))
        elif synced == w - 1:  # merged in the window that is now the previous one
            delta = (w, c, max(0, p - self._synced_b[slot]))
        else:
            delta = state
        return delta if delta[1] > 0 or delta[2] > 0 else None

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("The memory fallback store is closed.")

    # -- slots ----------------------------------------------------------------------------------

    def _state(self, slot: int, now: int) -> State | None:
        if self._expires[slot] <= now:
            return None
        if self._flags[slot] & 3 == _KIND[Algorithm.TOKEN_BUCKET]:
            return self._a[slot]
        return (int(self._a[slot]), self._b[slot], self._c[slot])

    def _store(self, slot: int, hit: Hit, state: State, expires: float) -> None:
        protected = self._flags[slot] & _PROTECTED_FLAG
        if isinstance(state, tuple):
            self._a[slot] = state[0]
            self._b[slot] = state[1]
            self._c[slot] = state[2]
        else:
            self._a[slot] = state
        self._window[slot] = hit.window_ms
        self._expires[slot] = expires
        self._flags[slot] = _KIND[hit.algorithm] | protected

    def _allocate(self, key: str, now: int) -> int:
        if self._free != -1:
            slot = self._free
            self._free = self._next[slot]
        elif len(self._keys) < self.capacity + FIRST_SLOT:
            slot = len(self._keys)
            self._keys.append(None)
            self._prev.append(slot)
            self._next.append(slot)
            self._window.append(0)
            self._a.append(0.0)
            self._expires.append(0.0)
            self._b.append(0)
            self._c.append(0)
            self._flags.append(0)
            self._synced_a.append(0.0)
            self._synced_b.append(0)
            self._synced_c.append(0)
        else:
            slot = self._evict(now)
        self._prev[slot] = self._next[slot] = slot  # linked nowhere yet
        self._keys[slot] = key
        self._index[key] = slot
        self._flags[slot] = 0
        self._synced_a[slot] = -1.0  # nothing merged yet
        if not self._warned and len(self._index) > self.warn_ratio * self.capacity:
            self._warned = True
            logger.warning(
                "The rate-limit memory fallback store is %.0f%% full (%d of %d entries).",
                100 * self.fill_ratio,
                len(self._index),
                self.capacity,
                extra={
                    "fill_ratio": self.fill_ratio,
                    "entries": len(self._index),
                    "capacity": self.capacity,
                },
            )
        return slot

    def _evict(self, now: int) -> int:
        """Free one slot (the store is full) and return it."""
        end = len(self._keys)
        for _ in range(SWEEP):
            slot = self._hand
            self._hand = slot + 1 if slot + 1 < end else FIRST_SLOT
            if self._flags[slot] and self._expires[slot] <= now:
                return self._take(slot, "expired")
        for head, reason in ((NORMAL, "lru"), (PROTECTED, "blocked")):
            slot = self._next[head]
            if slot != head:
                return self._take(slot, "expired" if self._expires[slot] <= now else reason)
        raise AssertionError("a full store has no entry to evict")  # pragma: no cover

    def _take(self, slot: int, reason: str) -> int:
        self._remove(slot, reason)
        self._free = self._next[slot]
        return slot

    def _remove(self, slot: int, reason: str | None) -> None:
        prev, nxt = self._prev[slot], self._next[slot]
        self._next[prev] = nxt
        self._prev[nxt] = prev
        key = self._keys[slot]
        if key is not None:
            del self._index[key]
        self._keys[slot] = None
        self._flags[slot] = 0
        self._next[slot] = self._free
        self._free = slot
        if reason is not None:
            self.evictions[reason] += 1
        if self._warned and len(self._index) < 0.9 * self.warn_ratio * self.capacity:
            self._warned = False  # warn again next time it fills up

    def _touch(self, slot: int, head: int) -> None:
        """Move ``slot`` to the most recently used end of the list headed by ``head``."""
        prev, nxt = self._prev[slot], self._next[slot]
        self._next[prev] = nxt
        self._prev[nxt] = prev
        tail = self._prev[head]
        self._next[tail] = slot
        self._prev[slot] = tail
        self._next[slot] = head
        self._prev[head] = slot
        flags = self._flags[slot] & 3
        self._flags[slot] = flags | _PROTECTED_FLAG if head == PROTECTED else flags


__all__ = ["EVICTION_REASONS", "Counted", "MemoryStore"]
