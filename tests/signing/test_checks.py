"""Fail fast: bad signing configuration stops startup, with messages that never leak a secret."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from django_ratelimit_guard.middleware import SignedRequestMiddleware
from tests.support.signing import SIGNED_MIDDLEWARE, signing_config

SHORT_SECRET = "short-but-sensitive-7f3a"  # 24 bytes
GOOD_SECRET = "a-long-enough-secret-for-the-startup-tests-01"


def _ids() -> list[str]:
    return [m.id for m in checks.run_checks(tags=["ratelimit_guard"]) if m.id]


def _startup_errors() -> list[str]:
    """The messages of both startup paths: the app's ready() and the middleware constructor."""
    messages = []
    for start in (
        apps.get_app_config("django_ratelimit_guard").ready,
        lambda: SignedRequestMiddleware(lambda request: HttpResponse()),
    ):
        with pytest.raises(ImproperlyConfigured) as info:
            start()
        messages.append(str(info.value))
    return messages


@pytest.mark.parametrize(
    ("signing", "check_id", "setting"),
    [
        (
            {"KEYS": {"c": [SHORT_SECRET]}},
            "ratelimit_guard.E021",
            "RATELIMIT_GUARD['SIGNING']['KEYS']['c'][0]",
        ),
        (
            {"KEYS": {"c": [GOOD_SECRET], "d": [GOOD_SECRET]}},
            "ratelimit_guard.E022",
            "['KEYS']['d'][0]",
        ),
        ({"KEYS": {"c": [GOOD_SECRET, GOOD_SECRET]}}, "ratelimit_guard.E022", "['KEYS']['c'][1]"),
        (
            {"KEYS": {"c": [GOOD_SECRET]}, "MAX_SKEW_SECONDS": 4},
            "ratelimit_guard.E023",
            "MAX_SKEW_SECONDS",
        ),
        (
            {"KEYS": {"c": [GOOD_SECRET]}, "MAX_SKEW_SECONDS": 301},
            "ratelimit_guard.E023",
            "MAX_SKEW_SECONDS",
        ),
        ({"KEYS": {}}, "ratelimit_guard.E025", "RATELIMIT_GUARD['SIGNING']['KEYS']"),
        ({}, "ratelimit_guard.E025", "RATELIMIT_GUARD['SIGNING']['KEYS']"),
    ],
)
def test_bad_signing_configuration_fails_checks_ready_and_the_middleware(
    settings: Any, signing: dict[str, Any], check_id: str, setting: str
) -> None:
    settings.MIDDLEWARE = [SIGNED_MIDDLEWARE]
    settings.RATELIMIT_GUARD = {"CACHE_ALIAS": "ratelimit", "SIGNING": signing}
    assert check_id in _ids()
    for message in _startup_errors():
        assert check_id in message
        assert setting in message
        assert SHORT_SECRET not in message
        assert GOOD_SECRET not in message


def test_a_secret_from_the_environment_is_never_echoed(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_SECRET", SHORT_SECRET)
    import os

    settings.MIDDLEWARE = [SIGNED_MIDDLEWARE]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "SIGNING": {"KEYS": {"c": [os.environ["API_SECRET"]]}},
    }
    messages = checks.run_checks(tags=["ratelimit_guard"])
    assert "ratelimit_guard.E021" in [m.id for m in messages]
    all_text = " ".join(f"{m.msg} {m.hint}" for m in messages)
    assert SHORT_SECRET not in all_text
    assert "24 bytes" in all_text
    for message in _startup_errors():
        assert SHORT_SECRET not in message


def test_no_keys_is_fine_while_the_middleware_is_not_installed(settings: Any) -> None:
    settings.RATELIMIT_GUARD = {"CACHE_ALIAS": "ratelimit"}
    assert "ratelimit_guard.E025" not in _ids()
    apps.get_app_config("django_ratelimit_guard").ready()


def test_the_middleware_constructor_refuses_no_keys_even_when_built_by_hand(settings: Any) -> None:
    settings.RATELIMIT_GUARD = {"CACHE_ALIAS": "ratelimit"}
    with pytest.raises(ImproperlyConfigured, match="E025"):
        SignedRequestMiddleware(lambda request: HttpResponse())


def test_a_valid_configuration_starts(settings: Any) -> None:
    settings.MIDDLEWARE = [SIGNED_MIDDLEWARE]
    settings.RATELIMIT_GUARD = signing_config()
    assert not [i for i in _ids() if i.startswith("ratelimit_guard.E02")]
    apps.get_app_config("django_ratelimit_guard").ready()
    SignedRequestMiddleware(lambda request: HttpResponse())


def test_rate_limiting_on_api_key_before_the_signature_is_verified_is_an_error(
    settings: Any,
) -> None:
    config = signing_config()
    config["POLICIES"] = {"per-client": {"rate": "5/m", "key": "api_key", "paths": ["/api/"]}}
    settings.RATELIMIT_GUARD = config
    settings.MIDDLEWARE = [
        "django_ratelimit_guard.middleware.RateLimitMiddleware",
        SIGNED_MIDDLEWARE,
    ]
    assert "ratelimit_guard.E026" in _ids()
    settings.MIDDLEWARE = [
        SIGNED_MIDDLEWARE,
        "django_ratelimit_guard.middleware.RateLimitMiddleware",
    ]
    assert "ratelimit_guard.E026" not in _ids()
