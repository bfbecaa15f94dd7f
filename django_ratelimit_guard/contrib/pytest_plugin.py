"""The pytest plugin for your own suite (issue #15), loaded by pytest through the ``pytest11``
entry point as soon as django-ratelimit-guard is installed.

It defines two fixtures, which do nothing unless a test asks for one, and turns the app's
background poller off in the test process (``RATELIMIT_GUARD_CONTROL_POLL_SECONDS=0`` unless you
set it). A project that does not use Django, or does not configure this app, is not affected
(importing the plugin touches no settings); a fixture asked for without Django settings fails
with a message saying so.

* ``ratelimit_disabled`` — nothing is enforced during the test (``ENABLED: False``).
* ``ratelimit_reset`` — every counter (Redis, under ``KEY_PREFIX`` only, and memory) is cleared
  before the test, and again after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from django_ratelimit_guard import testing


def pytest_configure(config: pytest.Config) -> None:
    """No fleet poller thread in the test process: it would read the test database beside the
    tests (which pytest-django forbids outside ``django_db`` tests). Rules and commands added in
    the test process apply there at once. Setting the variable yourself wins."""
    os.environ.setdefault("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "0")


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
