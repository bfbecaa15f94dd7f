"""Test helpers for your own suite (issue #15); ``docs/testing.md`` shows them.

* :class:`override_policies` — replace or add policies for a block of code: a context manager,
  and a decorator of sync and async test functions and of ``TestCase`` classes (it is Django's
  ``override_settings``, with ``RATELIMIT_GUARD['POLICIES']`` merged rather than replaced).
* :func:`disabled` — nothing is enforced (``ENABLED: False``), as a context manager/decorator.
* :func:`reset_counters` — forget every counter: in this process (the memory fallback, the
  concurrency slots, every cache of derived state) and in Redis, where only the keys under
  ``KEY_PREFIX`` are deleted (``SCAN`` + ``DEL``; never ``FLUSHDB``: the database may hold other
  data), on every node of a Redis Cluster.

With pytest, the plugin ``django_ratelimit_guard.contrib.pytest_plugin`` (registered through the
``pytest11`` entry point: nothing to configure) offers them as the fixtures
``ratelimit_disabled`` and ``ratelimit_reset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings

from django_ratelimit_guard.conf.settings import guard_settings, reset_all
from django_ratelimit_guard.engine.decide import redis_store

#: Keys are deleted in batches of this many (one DEL each).
DELETE_BATCH = 500


def _current() -> dict[str, Any]:
    if not settings.configured:
        raise ImproperlyConfigured(
            "The rate-limit test helpers need Django settings: set DJANGO_SETTINGS_MODULE (with "
            "pytest-django, the --ds option or DJANGO_SETTINGS_MODULE in your pytest settings)."
        )
    return dict(getattr(settings, "RATELIMIT_GUARD", None) or {})


class override_policies(override_settings):
    """``RATELIMIT_GUARD['POLICIES']`` with ``policies`` replacing or adding the named ones.

    ``override_policies(login={"rate": "100/m", "key": "ip"})``; names that are not Python
    identifiers go in a mapping: ``override_policies({"failed-login": {...}})``.
    """

    def __init__(
        self, mapping: Mapping[str, Mapping[str, Any]] | None = None, /, **policies: Any
    ) -> None:
        self.policies = {**(mapping or {}), **policies}
        super().__init__()

    def enable(self) -> None:
        current = _current()
        self.options = {
            "RATELIMIT_GUARD": {
                **current,
                "POLICIES": {**(current.get("POLICIES") or {}), **self.policies},
            }
        }
        super().enable()


class disabled(override_settings):
    """``RATELIMIT_GUARD['ENABLED'] = False`` for a block of code: nothing is enforced."""

    def enable(self) -> None:
        self.options = {"RATELIMIT_GUARD": {**_current(), "ENABLED": False}}
        super().enable()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def reset_counters() -> int:
    """Forget every rate-limit counter (module docstring); return how many Redis keys went."""
    _current()
    reset_all()  # in-process state: fallback store, concurrency slots, caches, local denials
    config = guard_settings()
    client = redis_store().client
    deleted = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=f"{_glob_escape(config.key_prefix)}:*", count=1000):
        batch.append(key)
        if len(batch) >= DELETE_BATCH:
            deleted += int(client.delete(*batch))
            batch = []
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


__all__ = ["disabled", "override_policies", "reset_counters"]
