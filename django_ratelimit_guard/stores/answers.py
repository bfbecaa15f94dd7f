"""What Redis last answered, per client and policy: the memory behind exact local denials
(``engine/local.py``) and behind a client's budget carried into an outage
(``engine/continuity.py``).

One entry per storage key: the hit that was asked (key, algorithm, limit, window, cost, block), the
verdict Redis gave, and the monotonic time read *before* the request was sent — so every deadline
derived from it ends no later than the one Redis itself would apply.

Bounded and O(1) with two generations of plain dicts: new answers go to the young one; when it
holds ``capacity / 2`` keys it becomes the old one and the previous old one is dropped; a key found
only in the old generation is promoted. So a key answered or looked up within the last
``capacity / 2`` insertions is always kept — least recently used first out, by generation — and the
memory never holds more than ``capacity`` keys. Every operation is one or two dict operations
under the GIL, without a lock: a race can only lose an entry, which costs one Redis round trip.

Entries are plain tuples (``HIT``, ``VERDICT``, ``AT``): one is built per policy per Redis answer.
"""

from __future__ import annotations

import threading
import time

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core.algorithms import Hit, Verdict

#: An entry: (hit, verdict, monotonic seconds read before the request was sent).
Answer = tuple[Hit, Verdict, float]
HIT, VERDICT, AT = 0, 1, 2

#: The clock of every ``AT`` (injectable for tests): monotonic, so a wall-clock step cannot
#: stretch a local denial.
clock = time.monotonic


class AnswerMemory:
    """The last Redis answer per storage key, at most ``capacity`` keys (see the module)."""

    __slots__ = ("capacity", "generation", "half", "old", "young")

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self.capacity = capacity
        self.half = capacity // 2
        self.young: dict[str, Answer] = {}
        self.old: dict[str, Answer] = {}
        #: Bumped by every forget/clear: an answer to a call sent before it is not remembered
        #: (it may predate an operator's reset).
        self.generation = 0

    def __len__(self) -> int:
        """O(n): for the status page, never the request path."""
        young, old = self.young, self.old
        return len(young) + sum(1 for key in old if key not in young)

    def __bool__(self) -> bool:
        return True  # a memory is there even when empty (never fall back to __len__)

    def get(self, key: str) -> Answer | None:
        answer = self.young.get(key)
        if answer is None:
            answer = self.old.get(key)
            if answer is not None:
                self.put(key, answer)  # used again: keep it through the next rotation
        return answer

    def put(self, key: str, answer: Answer) -> None:
        young = self.young
        young[key] = answer
        if len(young) >= self.half:
            self.old, self.young = young, {}

    def remember(
        self, hits: list[Hit], verdicts: list[Verdict], at: float, generation: int
    ) -> None:
        """Record one Redis answer (``verdicts[i]`` for ``hits[i]``), unless a forget or clear
        happened since ``generation`` was read (before the request was sent)."""
        if generation != self.generation:
            return
        young = self.young
        if len(hits) == 1:  # the common case, without the loop
            hit = hits[0]
            young[hit.key] = (hit, verdicts[0], at)
        else:
            for hit, verdict in zip(hits, verdicts, strict=True):
                young[hit.key] = (hit, verdict, at)
        if len(young) >= self.half:
            self.old, self.young = young, {}

    def forget(self, key: str) -> None:
        """Drop what was remembered of ``key`` (an operator reset it, or changed its override)."""
        self.generation += 1
        self.young.pop(key, None)
        self.old.pop(key, None)

    def clear(self) -> None:
        self.generation += 1
        self.young, self.old = {}, {}


#: This process's memory once built (the hot path reads it here; ``answer_memory()`` builds it).
memory: AnswerMemory | None = None
_lock = threading.Lock()


def answer_memory() -> AnswerMemory:
    """This process's memory, sized like the fallback store (``FALLBACK['MAX_ENTRIES']``)."""
    built = memory
    if built is None:
        built = _build()
    return built


def _build() -> AnswerMemory:
    global memory
    with _lock:
        if memory is None:
            memory = AnswerMemory(max(2, guard_settings().fallback.max_entries))
        return memory


def forget_client(policy: str, storage_key: str) -> None:
    """A ``bus.client_reset`` subscriber: this process forgets the client's last answer."""
    built = memory
    if built is not None:
        built.forget(storage_key)


@on_reload
def _drop() -> None:
    # New settings: new policies, rates and key secret; what Redis said of the old ones is moot.
    global memory
    with _lock:
        if memory is not None:
            memory.clear()
        memory = None


__all__ = [
    "AT",
    "HIT",
    "VERDICT",
    "Answer",
    "AnswerMemory",
    "answer_memory",
    "forget_client",
    "memory",
]
