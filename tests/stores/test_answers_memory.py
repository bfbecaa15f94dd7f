"""The memory of Redis's answers (``stores/answers.py``): bounded, least recently used out first,
O(1), and deaf to answers of calls sent before an operator's reset."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.core.algorithms import Algorithm, Hit, Verdict
from django_ratelimit_guard.stores.answers import AnswerMemory, answer_memory

ALLOWED = Verdict(True, 3, 1000, 0)


def hit(key: str) -> Hit:
    return Hit(key, Algorithm.FIXED_WINDOW, 5, 60_000, 1, True)


def remember(memory: AnswerMemory, key: str) -> None:
    memory.remember([hit(key)], [ALLOWED], 1.0, memory.generation)


@given(st.integers(2, 64), st.lists(st.integers(0, 500), max_size=400))
def test_the_memory_never_holds_more_than_its_capacity(capacity, keys):
    memory = AnswerMemory(capacity)
    for key in keys:
        remember(memory, f"k{key}")
        assert len(memory) <= capacity


def test_a_key_used_within_the_last_half_capacity_insertions_is_kept():
    memory = AnswerMemory(10)
    remember(memory, "blocked")
    for i in range(40):
        remember(memory, f"flood{i}")
        assert memory.get("blocked") is not None  # looked up again each time: promoted
    assert memory.get("flood0") is None  # the flood's oldest went first


def test_an_answer_to_a_call_sent_before_a_forget_is_not_remembered():
    memory = AnswerMemory(10)
    generation = memory.generation  # read before the (slow) call is sent
    memory.forget("k")  # an operator's reset arrives meanwhile
    memory.remember([hit("k")], [Verdict(False, 0, 1000, 900)], 1.0, generation)
    assert memory.get("k") is None


def test_forget_and_clear_drop_answers():
    memory = AnswerMemory(10)
    remember(memory, "a")
    remember(memory, "b")
    memory.forget("a")
    assert memory.get("a") is None and memory.get("b") is not None
    memory.clear()
    assert len(memory) == 0


def test_the_process_memory_is_sized_like_the_fallback_store(settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "FALLBACK": {"MAX_ENTRIES": 1234}}
    assert answer_memory().capacity == 1234


def test_a_settings_change_forgets_every_answer(settings):
    memory = answer_memory()
    remember(memory, "a")
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "KEY_PREFIX": "other"}
    assert answer_memory().get("a") is None
