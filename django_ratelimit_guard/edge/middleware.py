"""``RateLimitMiddleware``: path policies, plus the decorated view's policies, all in one round
trip. Installed as ``django_ratelimit_guard.middleware.RateLimitMiddleware`` (the root module
re-exports it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, URLResolver, get_resolver

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.exceptions import RateLimited
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.edge import staged
from django_ratelimit_guard.edge.decorators import POLICIES_ATTR, named_policy
from django_ratelimit_guard.edge.responses import add_headers, record, rejection_response
from django_ratelimit_guard.edge.startup import validate_views_once
from django_ratelimit_guard.engine import limiter, registry

GetResponse = Callable[[HttpRequest], Any]


#: Per URL resolver, path -> the names its view carries. Resolving costs more than a decision's
#: own Python work (docs/performance.md), and a path always reaches the same view of the same
#: resolver; Django builds a new resolver when the URLconf changes, so entries never go stale.
#: Paths come from clients: each cache is bounded, and emptied when full.
_names_by_resolver: WeakKeyDictionary[URLResolver, dict[str, tuple[str, ...]]] = WeakKeyDictionary()
NAMES_CACHE_SIZE = 4096


def view_policy_names(request: HttpRequest) -> tuple[str, ...]:
    """The policies ``@rate_limit`` put on the view this request will reach (function views, and
    class-based views decorated on ``dispatch`` with ``method_decorator``)."""
    resolver = get_resolver(getattr(request, "urlconf", None))
    path = request.path_info
    cache = _names_by_resolver.get(resolver)
    if cache is None:
        cache = _names_by_resolver.setdefault(resolver, {})
    names = cache.get(path)
    if names is None:
        names = _resolve_names(resolver, path)
        if len(cache) >= NAMES_CACHE_SIZE:
            cache.clear()
        cache[path] = names
    return names


def _resolve_names(resolver: URLResolver, path: str) -> tuple[str, ...]:
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return ()
    func = match.func
    names = getattr(func, POLICIES_ATTR, None)
    if names is None:
        view_class = getattr(func, "view_class", None) or getattr(func, "cls", None)
        dispatch = getattr(view_class, "dispatch", None)
        names = getattr(dispatch, POLICIES_ATTR, ())
    return tuple(names or ())


#: (settings, every path policy's prefixes): one ``startswith`` tells a path no policy covers.
_prefixes: tuple[object, tuple[str, ...]] = (None, ())


def request_policies(request: HttpRequest) -> list[Policy]:
    global _prefixes
    config = guard_settings()
    path = request.path_info
    if _prefixes[0] is not config:
        _prefixes = (config, tuple(prefix for p in config.path_policies for prefix in p.paths))
    policies = (
        [p for p in config.path_policies if p.applies_to_path(path)]
        if path.startswith(_prefixes[1])
        else []
    )
    if registry.referenced_names or registry.has_inline():
        policies += [named_policy(n) for n in view_policy_names(request)]
    return policies


class RateLimitMiddleware:
    """Applies the policies whose ``paths`` match, and those of the decorated view, in one
    round trip; rejects with 429 (503 for an undecidable ``closed`` policy) and sets the
    RateLimit header fields. Place it after ``AuthenticationMiddleware``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        # Built when the server loads the application: every @rate_limit problem stops it here,
        # all listed at once, instead of a 500 per request (edge/startup.py).
        validate_views_once()
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        policies = request_policies(request)
        if not policies:  # a path no policy covers costs this much (DRF's throttle may record)
            return add_headers(self.get_response(request), request)
        if registry.has_staged() and staged.any_staged(policies):  # issue #15
            return staged.respond(request, policies, self.get_response)
        result = limiter.decide(request, policies)
        record(request, result)
        if result.rejected:
            return rejection_response(request, result.decision)
        return add_headers(self.get_response(request), request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        policies = request_policies(request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = self.get_response
        if not policies:
            return add_headers(await get_response(request), request)
        if registry.has_staged() and staged.any_staged(policies):  # issue #15
            return await staged.arespond(request, policies, get_response)
        result = await limiter.adecide(request, policies)
        record(request, result)
        if result.rejected:
            return rejection_response(request, result.decision)
        return add_headers(await get_response(request), request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RateLimited):
            return rejection_response(request, exception.decision)
        return None


__all__ = ["RateLimitMiddleware", "request_policies", "view_policy_names"]
