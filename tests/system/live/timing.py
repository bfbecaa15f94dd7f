"""Time spent inside Django, sent back in ``X-Django-Ms`` (the first middleware of the live site),
so the chaos bench reports a request's own duration apart from connection set-up and queueing."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


class TimingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        started = time.perf_counter()
        response: HttpResponse = self.get_response(request)
        response["X-Django-Ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
        response = await get_response(request)
        response["X-Django-Ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
        return response
