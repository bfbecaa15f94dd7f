"""The process-wide fallback store: one :class:`MemoryStore`, sized by ``FALLBACK``.

Built on first use and rebuilt (the old one closed) when the settings change, so a reload of
``RATELIMIT_GUARD`` takes a new ``MAX_ENTRIES`` without a restart.
"""

from __future__ import annotations

import threading

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.stores.memory import MemoryStore

_fallback: MemoryStore | None = None
_fallback_lock = threading.Lock()


def fallback_store() -> MemoryStore:
    """The process-wide fallback store, built from ``FALLBACK`` (rebuilt when settings change)."""
    global _fallback
    store = _fallback
    if store is None:
        with _fallback_lock:
            if _fallback is None:
                config = guard_settings().fallback
                _fallback = MemoryStore(config.max_entries, config.warn_ratio)
            store = _fallback
    return store


@on_reload
def _rebuild_fallback() -> None:
    global _fallback
    with _fallback_lock:
        old, _fallback = _fallback, None
    if old is not None:
        old.close()


__all__ = ["fallback_store"]
