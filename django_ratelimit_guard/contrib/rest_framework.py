"""Django REST framework integration: named policies as a DRF throttle.

``PolicyThrottle`` applies the policies a view names — ``throttle_scope = "api"`` (DRF's own
convention, read as a policy name) and/or ``rate_limit_policies = ["burst", "sustained"]`` — plus
the ``policies`` of a throttle subclass. All of them are decided in one round trip through
:func:`django_ratelimit_guard.engine.limiter.decide`, so fail modes, the breaker and the memory
fallback behave exactly as for ``@rate_limit`` views.

The result is recorded in ``request.rate_limit`` (the Django request), so ``RateLimitMiddleware``
adds the ``RateLimit-Policy`` / ``RateLimit`` header fields to the DRF response; without the
middleware, add :class:`RateLimitHeadersMixin` to the view. ``wait()`` is the decision's
``retry_after``, so DRF sends ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from rest_framework import status
from rest_framework.exceptions import APIException, Throttled
from rest_framework.throttling import BaseThrottle

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.decisions import Result
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.edge.responses import DECIDED_ATTR, add_headers, record
from django_ratelimit_guard.engine import limiter, registry

__all__ = ["PolicyThrottle", "RateLimitHeadersMixin", "RateLimiterUnavailable"]


class RateLimiterUnavailable(APIException):  # type: ignore[misc]
    """503: a ``"closed"`` policy could not be decided (its store is unavailable)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The rate limiter could not decide this request."
    default_code = "rate_limiter_unavailable"

    def __init__(self, wait: float | None = None) -> None:
        super().__init__()
        # DRF's exception handler sends Retry-After when ``wait`` is set (an int, like Throttled).
        self.wait = None if wait is None else max(1, int(-(-wait // 1)))


def django_request(request: Any) -> HttpRequest:
    """The ``HttpRequest`` behind a DRF ``Request`` (the middleware reads its attributes)."""
    inner = getattr(request, "_request", None)
    return inner if isinstance(inner, HttpRequest) else request


def _as_names(value: object, where: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ImproperlyConfigured(
            f"{where} must be a list of policy names, e.g. ['burst', 'sustained'], not {value!r}."
        )
    names = tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ImproperlyConfigured(f"{where} must contain policy names (strings), got {names!r}.")
    return names


class PolicyThrottle(BaseThrottle):  # type: ignore[misc]
    """A DRF throttle that applies named ``RATELIMIT_GUARD['POLICIES']`` to a view.

    Usable in ``REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES']``; a view that names no policy is not
    limited by it. Subclass with ``policies = [...]`` to apply policies to every view using the
    subclass, or ``scope_attr = None`` to stop reading ``throttle_scope``.
    """

    #: Policies this throttle class applies to every view it is used on.
    policies: Sequence[str] = ()
    #: The view attribute read as one policy name (DRF's scoped-throttle convention).
    scope_attr: str | None = "throttle_scope"
    #: The view attribute read as a list of policy names.
    policies_attr: str = "rate_limit_policies"

    def __init__(self) -> None:
        self.result: Result | None = None

    def get_policy_names(self, request: Any, view: Any) -> list[str]:
        names = list(_as_names(self.policies, f"{type(self).__name__}.policies"))
        where = f"{type(view).__name__}.{self.policies_attr}"
        names += _as_names(getattr(view, self.policies_attr, None), where)
        if self.scope_attr:
            scope = getattr(view, self.scope_attr, None)
            if scope is not None and not isinstance(scope, str):
                raise ImproperlyConfigured(
                    f"{type(view).__name__}.{self.scope_attr} must be a policy name, got {scope!r}."
                )
            if scope:
                names.append(scope)
        return list(dict.fromkeys(names))

    def get_policies(self, request: Any, view: Any) -> list[Policy]:
        # Policies the middleware (or another throttle) already decided on this request are not
        # counted twice.
        decided = getattr(django_request(request), DECIDED_ATTR, ())
        policies = []
        for name in self.get_policy_names(request, view):
            if name in decided:
                continue
            try:
                policies.append(registry.get_policy(name))
            except KeyError:
                raise ImproperlyConfigured(
                    f"{type(view).__name__} names the rate-limit policy {name!r}, which "
                    "RATELIMIT_GUARD['POLICIES'] does not define (ratelimit_guard.E060)."
                ) from None
        return policies

    def allow_request(self, request: Any, view: Any) -> bool:
        policies = self.get_policies(request, view)
        if not policies:
            return True
        # The DRF request: key functions see DRF's authenticated user (token auth and friends).
        result = limiter.decide(request, policies)
        record(django_request(request), result)
        self.result = result
        if not result.rejected:
            return True
        decision = result.decision
        assert decision is not None  # a rejected result has a decision
        if decision.source == "closed":
            raise RateLimiterUnavailable(decision.retry_after)
        configured = guard_settings().response.status
        if configured != status.HTTP_429_TOO_MANY_REQUESTS:
            raise _throttled_with_status(configured, decision.retry_after)
        return False

    def wait(self) -> float | None:
        if self.result is None or self.result.retry_after is None:
            return None
        return self.result.retry_after


def _throttled_with_status(code: int, wait: float) -> Throttled:
    exc = Throttled(wait=wait)
    exc.status_code = code  # RESPONSE["STATUS"] applies to DRF views too
    return exc


class RateLimitHeadersMixin:
    """Adds the RateLimit header fields to a DRF view's responses when ``RateLimitMiddleware``
    is not installed (with the middleware, it is harmless: the fields are set once)."""

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        return add_headers(response, django_request(request))
