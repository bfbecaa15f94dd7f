"""The fallback store's figures in the metrics, true at scrape time.

``ratelimit_guard_fallback_entries`` (entries not expired yet), ``_capacity`` and
``ratelimit_guard_fallback_evictions_total`` describe this process's fallback store
(``stores/memory.py``). They are read from the store itself, not refreshed by decisions: a scrape
right after an outage burst shows every client held in memory and every eviction, and after
recovery the entries gauge falls back as the outage's entries expire (no decision needed).

* **One process** (no ``PROMETHEUS_MULTIPROC_DIR``): a scrape hook (``metrics.scrape_hooks``)
  copies the store's figures into the gauges and the counter before the registry reads them.
* **Multiprocess mode** (gunicorn): the scraping process reads every worker's value files and
  cannot reach the other workers' stores, so each worker refreshes its own values from a daemon
  thread every ``REFRESH_SECONDS``: a scrape shows figures at most that old. The thread starts at
  the process's first decision — never at import, so a preloading gunicorn master forks workers
  without it — and again in a forked child.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django_ratelimit_guard.ops import metrics
from django_ratelimit_guard.stores.fallback import fallback_store

logger = logging.getLogger("django_ratelimit_guard")

#: Multiprocess mode: how old a worker's fallback figures may be when scraped.
REFRESH_SECONDS = 1.0

_thread: threading.Thread | None = None
_thread_pid = 0
_start_lock = threading.Lock()


def refresh() -> None:
    """Copy this process's fallback store figures into the gauges and the evictions counter."""
    store = fallback_store()
    metrics.refresh_fallback(store.live_entries(), store.capacity, dict(store.evictions))


def on_decided(request: Any, result: Any) -> None:
    """A ``bus.decided`` subscriber in multiprocess mode only: a pid compare per decision."""
    if _thread_pid != os.getpid():
        _start()


def _start() -> None:
    global _thread, _thread_pid
    with _start_lock:
        if _thread_pid == os.getpid() and _thread is not None and _thread.is_alive():
            return
        thread = threading.Thread(target=_run, name="rlg-fallback-gauges", daemon=True)
        thread.start()
        _thread, _thread_pid = thread, os.getpid()


def _run() -> None:
    while True:
        try:
            refresh()
        except Exception:  # the refresher must outlive any bug; the next round retries
            logger.exception("Refreshing the fallback gauges failed")
        time.sleep(REFRESH_SECONDS)


def install() -> bool:
    """Read the figures at scrape time (one process), or keep them fresh from a thread
    (multiprocess mode). Returns True when ``on_decided`` must be subscribed (multiprocess)."""
    if not metrics.ENABLED:
        return False
    if metrics.MULTIPROCESS:
        return True
    if refresh not in metrics.scrape_hooks:
        metrics.scrape_hooks.append(refresh)
    return False


def thread_alive() -> bool:
    thread = _thread
    return thread is not None and _thread_pid == os.getpid() and thread.is_alive()


__all__ = ["REFRESH_SECONDS", "install", "on_decided", "refresh", "thread_alive"]
