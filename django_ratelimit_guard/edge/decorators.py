"""``@rate_limit``: a named policy, or an inline one, on sync and async views.

The decorator records its policy names on the view (``POLICIES_ATTR``) so that
``RateLimitMiddleware`` can decide them together with its path policies in one round trip; then
the decorator finds them already decided and only enforces. Without the middleware it decides
on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ImproperlyConfigured

from django_ratelimit_guard.core.exceptions import RateLimited
from django_ratelimit_guard.core.policies import POLICY_FIELDS
from django_ratelimit_guard.edge import staged
from django_ratelimit_guard.edge.responses import (
    DECIDED_ATTR,
    add_headers,
    record,
    rejection_response,
)
from django_ratelimit_guard.engine import limiter, registry

POLICIES_ATTR = "_rate_limit_guard_policies"
ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])

_NOT_A_REQUEST = (
    "rate_limit didn't receive an HttpRequest. If you are decorating a method, "
    "use @method_decorator(rate_limit(...), name='dispatch')."
)


def _is_request(obj: object) -> bool:
    # Duck-typed like Django's own view decorators: accepts DRF's Request, rejects `self`.
    return hasattr(obj, "META") and hasattr(obj, "method")


def view_names(view: Callable[..., Any]) -> tuple[str, str]:
    """The policy name of a view (``shop.views.report``) and the short name clients see
    (``report``). A class-based view's method under ``method_decorator`` is named after its
    class (``shop.views.ReportView.dispatch``, ``ReportView.dispatch``), not after the class
    that defines the method. The short name drops the ``<locals>`` of a nested view."""
    instance = getattr(getattr(view, "func", None), "__self__", None)  # method_decorator's partial
    if instance is not None and not isinstance(instance, type):
        cls = type(instance)
        qualname = f"{cls.__qualname__}.{getattr(view, '__name__', 'dispatch')}"
        module = cls.__module__
    else:
        qualname, module = str(view.__qualname__), str(view.__module__)
    return f"{module}.{qualname}", qualname.rsplit("<locals>.", 1)[-1]


def _is_method_decorator_probe(view: Callable[..., Any]) -> bool:
    return (getattr(view, "__module__", None), getattr(view, "__name__", None)) == (
        "django.utils.decorators",
        "dummy",
    )


def named_policy(name: str) -> Any:
    try:
        return registry.get_policy(name)
    except KeyError:
        # Reported at startup by the system check ratelimit_guard.E019.
        raise ImproperlyConfigured(
            f"rate_limit({name!r}) names no policy in RATELIMIT_GUARD['POLICIES']."
        ) from None


def _call(view: Callable[..., Any], args: Any, kwargs: Any) -> Callable[[Any], Any]:
    """The view as ``staged.respond`` calls it (issue #15): a raised RateLimited is a 429."""

    def call(request: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except RateLimited as exc:
            return rejection_response(request, exc.decision)

    return call


def _async_call(view: Callable[..., Any], args: Any, kwargs: Any) -> Callable[[Any], Any]:
    async def call(request: Any) -> Any:
        try:
            return await view(request, *args, **kwargs)
        except RateLimited as exc:
            return rejection_response(request, exc.decision)

    return call


def _declare(
    view: Callable[..., Any], policy: str | None, name: str | None, fields: dict[str, Any]
) -> str | None:
    """Register the decorator's policy; its name, or None for method_decorator's probe."""
    if policy is not None:
        registry.referenced_names.add(policy)
        return policy
    if name is not None:
        registry.declare_inline(name, fields)
        return name
    if _is_method_decorator_probe(view):
        # method_decorator applies us once to a throwaway function, to copy our attributes onto
        # the class's method: nothing names the class there. Validate now; the policy is
        # declared, under the class's name, when the decorator meets the bound method.
        registry.validate_inline(fields, "a class-based view's method (method_decorator)")
        return None
    # Named after the view; clients see only its short name (no module path).
    policy_name, header = view_names(view)
    registry.declare_inline(policy_name, fields, header=header)
    return policy_name


def rate_limit(
    policy: str | None = None, /, *, name: str | None = None, **fields: Any
) -> Callable[[ViewFunc], ViewFunc]:
    """Limit a view by a named policy (``@rate_limit("login")``) or an inline one
    (``@rate_limit(rate="5/m", key="ip", methods=["POST"])``)."""
    if callable(policy):
        raise TypeError("Use @rate_limit('name') or @rate_limit(rate=...), with parentheses.")
    if policy is not None and not isinstance(policy, str):
        raise TypeError(f"rate_limit's policy is a name (str), got {type(policy).__name__}.")
    if policy is not None and (fields or name):
        raise TypeError("Pass either a policy name or inline fields to rate_limit, not both.")
    if policy is None and not fields:
        raise TypeError("rate_limit needs a policy name or inline fields such as rate='5/m'.")
    unknown = sorted(set(fields) - POLICY_FIELDS)
    if unknown:
        raise TypeError(
            f"rate_limit got unknown field(s) {unknown}; known: {sorted(POLICY_FIELDS)}."
        )
    if "paths" in fields:
        raise TypeError(
            "rate_limit applies to the view it decorates; 'paths' is for middleware policies."
        )

    def decorator(view: ViewFunc) -> ViewFunc:
        if not callable(view):
            raise TypeError("rate_limit decorates a view function.")
        if isinstance(view, type):
            raise TypeError(
                "rate_limit can't decorate a class. Use "
                "@method_decorator(rate_limit(...), name='dispatch') on the class."
            )
        policy_name = _declare(view, policy, name, fields)
        if policy_name is None:
            return view
        names = (*getattr(view, POLICIES_ATTR, ()), policy_name)

        def pending(request: Any) -> list[Any]:
            # Stacked decorators: the outermost decides every stacked policy in one round trip.
            decided = getattr(request, DECIDED_ATTR, ())
            return [named_policy(n) for n in names if n not in decided]

        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                if not _is_request(request):
                    raise TypeError(_NOT_A_REQUEST)
                todo = pending(request)
                if todo and registry.has_staged() and staged.any_staged(todo):  # issue #15
                    return await staged.arespond(request, todo, _async_call(view, args, kwargs))
                if todo:
                    result = await limiter.adecide(request, todo)
                    record(request, result)
                    if result.rejected:
                        return rejection_response(request, result.decision)
                try:
                    response = await view(request, *args, **kwargs)
                except RateLimited as exc:
                    return rejection_response(request, exc.decision)
                return add_headers(response, request)

            setattr(async_wrapper, POLICIES_ATTR, names)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not _is_request(request):
                raise TypeError(_NOT_A_REQUEST)
            todo = pending(request)
            if todo and registry.has_staged() and staged.any_staged(todo):  # issue #15
                return staged.respond(request, todo, _call(view, args, kwargs))
            if todo:
                result = limiter.decide(request, todo)
                record(request, result)
                if result.rejected:
                    return rejection_response(request, result.decision)
            try:
                response = view(request, *args, **kwargs)
            except RateLimited as exc:
                return rejection_response(request, exc.decision)
            return add_headers(response, request)

        setattr(wrapper, POLICIES_ATTR, names)
        return wrapper  # type: ignore[return-value]

    return decorator
