"""``RatelimitMiddleware``: turns ``Ratelimited`` into the response of ``RATELIMIT_VIEW``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from django_ratelimit_guard.compat.exceptions import Ratelimited


def ratelimit_view() -> Callable[..., HttpResponse]:
    path = getattr(settings, "RATELIMIT_VIEW", None)
    if not path:
        # django-ratelimit fails with AttributeError on the first limited request; we say so at
        # startup (the constructor runs when the server loads the middleware chain).
        raise ImproperlyConfigured(
            "RatelimitMiddleware needs RATELIMIT_VIEW: the dotted path to a view "
            "(request, exception) that answers rate-limited requests (ratelimit_guard.E064)."
        )
    try:
        view = import_string(path) if isinstance(path, str) else path
    except ImportError as exc:
        raise ImproperlyConfigured(f"RATELIMIT_VIEW {path!r} could not be imported: {exc}") from exc
    if not callable(view):
        raise ImproperlyConfigured(f"RATELIMIT_VIEW {path!r} is not a view (request, exception).")
    return view  # type: ignore[no-any-return]


class RatelimitMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        ratelimit_view()
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        # Sync: the response; async: the coroutine, awaited by Django's handler.
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Ratelimited):
            return None
        return ratelimit_view()(request, exception)
