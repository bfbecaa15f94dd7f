"""RatelimitMiddleware: Ratelimited becomes the response of RATELIMIT_VIEW, sync and async."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import override_settings


def ratelimited_view(request, exception):
    return HttpResponse("slow down", status=429)


@override_settings(
    ROOT_URLCONF="tests.compat.urls",
    RATELIMIT_VIEW="tests.compat.test_middleware.ratelimited_view",
)
def test_middleware_answers_with_ratelimit_view(client, settings, redis):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django_ratelimit_guard.compat.middleware.RatelimitMiddleware",
    ]
    assert client.get("/compat/blocked/").status_code == 200
    response = client.get("/compat/blocked/")
    assert response.status_code == 429
    assert response.content == b"slow down"


@override_settings(ROOT_URLCONF="tests.compat.urls")
async def test_async_middleware_chain_answers_with_ratelimit_view(async_client, settings, redis):
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    settings.RATELIMIT_VIEW = "tests.compat.test_middleware.ratelimited_view"
    settings.MIDDLEWARE = ["django_ratelimit_guard.compat.middleware.RatelimitMiddleware"]
    assert (await async_client.get("/compat/async-blocked/")).status_code == 200
    assert (await async_client.get("/compat/async-blocked/")).status_code == 429


def test_middleware_without_ratelimit_view_fails_at_startup(settings):
    from django.core.exceptions import ImproperlyConfigured

    from django_ratelimit_guard.compat.middleware import RatelimitMiddleware

    with pytest.raises(ImproperlyConfigured, match="RATELIMIT_VIEW"):
        RatelimitMiddleware(lambda request: HttpResponse())
