"""Ratelimited is a PermissionDenied: without the middleware, Django answers 403."""

from __future__ import annotations

from django.test import override_settings


@override_settings(ROOT_URLCONF="tests.compat.urls")
def test_without_the_middleware_a_blocked_request_is_403(client, settings, redis):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    assert client.get("/compat/blocked/").status_code == 200
    assert client.get("/compat/blocked/").status_code == 403
