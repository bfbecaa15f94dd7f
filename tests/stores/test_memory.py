"""The memory fallback store: bounded, eviction order, constant work per operation, lifecycle."""

from __future__ import annotations

import logging
from array import array
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.core.exceptions import StoreClosedError
from django_ratelimit_guard.stores.memory import (
    FIRST_SLOT,
    NORMAL,
    PROTECTED,
    MemoryStore,
)
from tests.support.builders import hit

NOW = 1_700_000_000_000


def use(store: MemoryStore, name: str, times: int = 1, now: int = NOW, **kwargs: Any) -> bool:
    allowed = True
    for _ in range(times):
        allowed = store.hit_many([hit(name, **kwargs)], now_ms=now)[0].allowed
    return allowed


def keys_in(store: MemoryStore, head: int) -> list[str]:
    out, slot = [], store._next[head]
    while slot != head:
        out.append(store._keys[slot])
        slot = store._next[slot]
    return out


def test_the_store_never_holds_more_than_max_entries():
    store = MemoryStore(100)
    for i in range(1000):
        use(store, f"c{i}")
    assert store.entries == 100
    assert store.evictions["lru"] == 900


def test_flooding_new_keys_cannot_reset_a_blocked_client():
    store = MemoryStore(100)
    assert not use(store, "attacker", times=4)
    for i in range(5000):
        use(store, f"flood{i}")
    assert not use(store, "attacker")
    assert store.evictions["blocked"] == 0


def test_a_client_exactly_at_its_limit_is_protected_too():
    store = MemoryStore(100)
    use(store, "heavy", times=3)  # remaining 0: the next one would be rejected
    for i in range(500):
        use(store, f"flood{i}")
    assert not use(store, "heavy")


def test_least_recently_used_goes_first():
    store = MemoryStore(100)
    for i in range(100):
        use(store, f"c{i}")
    use(store, "c0")  # c0 is now the most recently used
    use(store, "new")
    assert hit("c1").key not in store._index
    assert hit("c0").key in store._index


def test_expired_entries_go_before_live_ones():
    store = MemoryStore(100)
    for i in range(50):
        use(store, f"short{i}", window_ms=1000)
    for i in range(50):
        use(store, f"long{i}", window_ms=3_600_000)
    later = NOW + 5000  # every short entry has expired, every long one is live
    for i in range(50):
        use(store, f"new{i}", now=later)
    assert store.evictions == {"expired": 50, "lru": 0, "blocked": 0}
    assert all(hit(f"long{i}").key in store._index for i in range(50))


def test_blocked_entries_are_evicted_when_everything_is_blocked():
    store = MemoryStore(100)
    for i in range(100):
        use(store, f"b{i}", times=4)
    assert not use(store, "newcomer", times=4)
    assert store.evictions["blocked"] == 4 - 3  # the newcomer's first write needed one slot
    assert store.entries == 100


def test_unblocked_clients_move_back_to_the_normal_list():
    store = MemoryStore(100)
    use(store, "c", times=4)
    assert hit("c").key in keys_in(store, PROTECTED)
    use(store, "c", now=NOW + 60_000)  # a new window: allowed with budget left
    assert hit("c").key in keys_in(store, NORMAL)


class CountingArray:
    """An array that counts how many slots an operation reads."""

    def __init__(self, inner: array, counter: list[int]) -> None:  # type: ignore[type-arg]
        self.inner = inner
        self.counter = counter

    def __getitem__(self, index: int) -> Any:
        self.counter[0] += 1
        return self.inner[index]

    def __setitem__(self, index: int, value: Any) -> None:
        self.inner[index] = value

    def __len__(self) -> int:
        return len(self.inner)

    def append(self, value: Any) -> None:
        self.inner.append(value)


def reads_per_new_key(capacity: int, fill: float) -> int:
    store = MemoryStore(capacity)
    for i in range(int(capacity * fill)):
        use(store, f"old{i}")
    counter = [0]
    for name in ("_expires", "_flags", "_prev", "_next"):
        setattr(store, name, CountingArray(getattr(store, name), counter))
    worst = 0
    for i in range(50):
        before = counter[0]
        use(store, f"new{i}")
        worst = max(worst, counter[0] - before)
    return worst


def test_work_per_operation_does_not_grow_with_the_store():
    small_full, big_full = reads_per_new_key(200, 1.0), reads_per_new_key(20_000, 1.0)
    assert small_full == big_full
    assert reads_per_new_key(20_000, 0.1) <= big_full <= 40


def test_export_lists_blocked_clients_first_and_keeps_them():
    store = MemoryStore(100)
    use(store, "calm")
    use(store, "blocked", times=4)
    use(store, "bucket", algorithm=Algorithm.TOKEN_BUCKET, now=NOW)
    counted = store.export_unmerged(now_ms=NOW)
    assert counted[0].key == hit("blocked").key
    assert counted[0].blocked
    assert counted[0].state[1] == 3
    assert {c.algorithm for c in counted} == {Algorithm.FIXED_WINDOW, Algorithm.TOKEN_BUCKET}
    assert store.entries == 3
    assert not use(store, "blocked")


def test_after_a_merge_only_new_counts_are_exported():
    store = MemoryStore(100)
    use(store, "c", times=2)
    use(store, "bucket", algorithm=Algorithm.TOKEN_BUCKET)
    store.mark_merged(store.export_unmerged(now_ms=NOW))
    assert store.export_unmerged(now_ms=NOW) == []
    use(store, "c")
    use(store, "bucket", algorithm=Algorithm.TOKEN_BUCKET)
    by_key = {c.key: c for c in store.export_unmerged(now_ms=NOW)}
    assert by_key[hit("c").key].state[1:] == (1, 0)  # type: ignore[index]
    assert by_key[hit("bucket", algorithm=Algorithm.TOKEN_BUCKET).key].state == pytest.approx(
        NOW + 20_000
    )
    sliding = Algorithm.SLIDING_WINDOW
    use(store, "s", times=2, algorithm=sliding)
    store.mark_merged(store.export_unmerged(now_ms=NOW))
    use(store, "s", algorithm=sliding)
    use(store, "s", now=NOW + 60_000, algorithm=sliding)  # next window: the 3 are now "previous"
    assert [
        c.state
        for c in store.export_unmerged(now_ms=NOW + 60_000)
        if c.key == hit("s", algorithm=sliding).key
    ] == [((NOW + 60_000) // 60_000, 1, 1)]


def test_a_closed_store_refuses_every_use():
    store = MemoryStore(100)
    use(store, "c")
    store.close()
    with pytest.raises(StoreClosedError):
        use(store, "c")
    with pytest.raises(StoreClosedError):
        store.reset(["x"])
    with pytest.raises(StoreClosedError):
        store.clear()
    with pytest.raises(StoreClosedError):
        store.export_unmerged()


def test_warns_once_when_fill_passes_the_warn_ratio(caplog):
    store = MemoryStore(100, warn_ratio=0.5)
    with caplog.at_level(logging.WARNING, logger="django_ratelimit_guard"):
        for i in range(200):
            use(store, f"c{i}")
    warnings = [r for r in caplog.records if "full" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].fill_ratio > 0.5  # type: ignore[attr-defined]
    assert store.fill_ratio == 1.0


def test_clear_forgets_counters_but_keeps_eviction_counts():
    store = MemoryStore(100)
    for i in range(150):
        use(store, f"c{i}")
    store.clear()
    assert store.entries == 0
    assert store.evictions["lru"] == 50
    assert use(store, "c149")


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 3), st.booleans()), max_size=300))
def test_lists_and_index_stay_consistent(ops):
    store = MemoryStore(20)
    for name, advance, reset in ops:
        now = NOW + advance * 20_000
        if reset:
            store.reset([hit(f"c{name}").key])
        else:
            store.hit_many([hit(f"c{name}", limit=2)], now_ms=now)
    listed = keys_in(store, NORMAL) + keys_in(store, PROTECTED)
    assert sorted(listed) == sorted(store._index)
    assert store.entries <= 20
    assert all(store._keys[slot] == key for key, slot in store._index.items())
    assert all(slot >= FIRST_SLOT for slot in store._index.values())
