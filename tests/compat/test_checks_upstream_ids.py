"""django-ratelimit's own check ids keep working for a project that swapped the import
(issue #13, item 13): its SILENCED_SYSTEM_CHECKS silence ours too. Offline; the whole upstream
suite runs with scripts/upstream_django_ratelimit.py (docs/migrating.md)."""

from __future__ import annotations

import pytest
from django.core import checks

from django_ratelimit_guard.compat.checks import check_compat
from tests.support.builders import redis_cache

UPSTREAM_SILENCED = ["django_ratelimit.E003", "django_ratelimit.W001"]  # its test_settings.py


def ids() -> list[str]:
    return [str(m.id) for m in check_compat()]


def test_upstreams_test_settings_silence_the_same_checks_under_our_ids(settings):
    settings.RATELIMIT_USE_CACHE = "default"  # LocMem, as in upstream's test settings
    settings.SILENCED_SYSTEM_CHECKS = UPSTREAM_SILENCED
    assert ids() == []


@pytest.mark.parametrize(
    ("upstream", "ours", "setup"),
    [
        ("django_ratelimit.E001", "ratelimit_guard.E061", {"CACHES": {}}),
        ("django_ratelimit.E002", "ratelimit_guard.E062", {"RATELIMIT_USE_CACHE": "nope"}),
        ("django_ratelimit.E003", "ratelimit_guard.E063", {"RATELIMIT_USE_CACHE": "default"}),
        ("django_ratelimit.W001", "ratelimit_guard.W060", {"RATELIMIT_USE_CACHE": "default"}),
    ],
)
def test_each_upstream_id_silences_its_twin_and_only_it(settings, upstream, ours, setup):
    for name, value in setup.items():
        setattr(settings, name, value)
    assert ours in ids()
    settings.SILENCED_SYSTEM_CHECKS = [upstream]
    assert ours not in ids()


def test_our_own_ids_still_silence_them(settings):
    settings.RATELIMIT_USE_CACHE = "default"
    settings.SILENCED_SYSTEM_CHECKS = ["ratelimit_guard.E063", "ratelimit_guard.W060"]
    messages = [m for m in checks.run_checks() if str(m.id).startswith("ratelimit_guard.")]
    assert not [m for m in messages if not m.is_silenced() and m.id == "ratelimit_guard.E063"]


def test_e063_names_the_setting_the_aliases_that_would_work_and_the_upstream_id(settings):
    settings.CACHES = {
        **settings.CACHES,
        "shared": redis_cache("redis://127.0.0.1:1/0"),
    }
    settings.RATELIMIT_USE_CACHE = "default"
    (message,) = [m for m in check_compat() if m.id == "ratelimit_guard.E063"]
    assert "RATELIMIT_USE_CACHE is 'default'" in message.msg
    assert "Set RATELIMIT_USE_CACHE to 'ratelimit' or 'shared', which would work" in message.hint
    assert "django_ratelimit.E003" in message.hint


def test_e063_without_a_usable_cache_says_to_add_one(settings):
    settings.CACHES = {"default": settings.CACHES["default"]}
    settings.RATELIMIT_USE_CACHE = "default"
    (message,) = [m for m in check_compat() if m.id == "ratelimit_guard.E063"]
    assert "Add a django-redis" in message.hint
