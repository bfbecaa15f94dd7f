"""The process-wide fallback store (stores/fallback.py) follows FALLBACK."""

from __future__ import annotations

import pytest

from django_ratelimit_guard.core.exceptions import StoreClosedError
from django_ratelimit_guard.stores.fallback import fallback_store
from tests.support.builders import hit

NOW = 1_700_000_000_000


def test_the_same_store_serves_every_call_until_settings_change(settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "FALLBACK": {"MAX_ENTRIES": 321}}
    assert fallback_store() is fallback_store()


def test_fallback_store_follows_settings(settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "FALLBACK": {"MAX_ENTRIES": 123}}
    first = fallback_store()
    assert first.capacity == 123
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "FALLBACK": {"MAX_ENTRIES": 456}}
    assert fallback_store().capacity == 456
    with pytest.raises(StoreClosedError):
        first.hit_many([hit("c")], now_ms=NOW)
