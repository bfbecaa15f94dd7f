"""The pytest plugin for your own suite (issue #15), loaded by pytest through the ``pytest11``
entry point as soon as django-ratelimit-guard is installed.

It only defines two fixtures and does nothing unless a test asks for one, so a project that does
not use Django, or does not configure this app, is not affected (importing it touches no
settings). A fixture asked for without Django settings fails with a message saying so.

* ``ratelimit_disabled`` — nothing is enforced during the test (``ENABLED: False``).
* ``ratelimit_reset`` — every counter (Redis, under ``KEY_PREFIX`` only, and memory) is cleared
  before the test, and again after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_ratelimit_guard import testing


@pytest.fixture
def ratelimit_disabled() -> Iterator[None]:
    """Nothing is rate limited during the test."""
    with testing.disabled():
        yield


@pytest.fixture
def ratelimit_reset() -> Iterator[None]:
    """Every rate-limit counter is cleared before the test (and after it)."""
    testing.reset_counters()
    yield
    testing.reset_counters()
