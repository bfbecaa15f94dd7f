"""The breakers of a process: one per scope, built from the settings, heard by subscribers."""

from __future__ import annotations

from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine.breakers import all_breakers, get_breaker


def test_registry_builds_one_breaker_per_scope_from_settings(settings):
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "BREAKER": {"FAILURE_THRESHOLD": 7}}
    breaker = get_breaker("ratelimit")
    assert get_breaker("ratelimit") is breaker
    assert breaker.config.failure_threshold == 7
    assert get_breaker("other") is not breaker
    assert set(all_breakers()) == {"ratelimit", "other"}


def test_subscribers_hear_existing_and_future_breakers(subscribe):
    seen: list[str] = []
    existing = get_breaker("one")
    subscribe(bus.breaker_transition, lambda scope, old, new, reason: seen.append(scope))
    future = get_breaker("two")
    existing.force_open()
    future.force_open()
    assert seen == ["one", "two"]


def test_environment_variables_tune_the_breaker(monkeypatch):
    from django_ratelimit_guard.conf.settings import reset_all

    monkeypatch.setenv("RATELIMIT_GUARD_BREAKER_RESET_TIMEOUT", "0.25")
    reset_all()
    assert get_breaker("ratelimit").config.reset_timeout == 0.25
