"""HTTP edge: the 429/503 response and the IETF RateLimit-Policy / RateLimit header fields
(draft-ietf-httpapi-ratelimit-headers-10).

Rejections are not logged one line per request: ``django.request`` would write a WARNING for
every 429 and an ERROR — an email to ``ADMINS`` under Django's default logging — for every
closed-mode 503. Each rejection response is marked as already logged (``logs.already_logged``)
and summarized on the ``django_ratelimit_guard.rejections`` logger instead: per policy and status,
at most one line per interval, with counts (``core/logs.py``; 429 at INFO, 503 at WARNING).
"""

from __future__ import annotations

import functools
import logging
import math

from django.http import HttpRequest, HttpResponse

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.decisions import Decision, Result
from django_ratelimit_guard.core.exceptions import RateLimited
from django_ratelimit_guard.engine.registry import header_name

logger = logging.getLogger("django_ratelimit_guard.rejections")

#: Attribute under which the middleware records which policies it already decided.
DECIDED_ATTR = "_rate_limit_guard_decided"
#: Attribute of a rejection response: its ``Retry-After`` in seconds, the floor of ``t``.
RETRY_AFTER_ATTR = "_rate_limit_guard_retry_after"


def _sf_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _seconds(value: float) -> int:
    return max(0, math.ceil(value))


def retry_after_seconds(decision: Decision) -> int:
    """The ``Retry-After`` of a rejection by ``decision``: whole seconds, at least 1."""
    return max(1, math.ceil(decision.retry_after))


@functools.lru_cache(maxsize=1024)
def _policy_item(policy: str, limit: int, window: int) -> str:
    # The same few (policy, quota, window) triples make every response's RateLimit-Policy.
    return f"{_sf_name(policy)};q={limit};w={window}"


@functools.lru_cache(maxsize=1024)
def _sf_name(policy: str) -> str:
    # The name clients see: never an inline policy's module path (registry.header_name).
    return _sf_string(header_name(policy))


@on_reload
def _forget_names() -> None:
    _policy_item.cache_clear()
    _sf_name.cache_clear()


def rate_limit_headers(result: Result, retry_after: int = 0) -> dict[str, str]:
    """``RateLimit-Policy`` lists every enforcing policy; ``RateLimit`` reports the most
    restrictive. Shadow-mode (``block=False``) policies are not advertised to clients.

    On a rejection ``t`` is never earlier than ``Retry-After`` (``retry_after``, or the rejecting
    decision's own): a client that honours ``t`` must not come back to another rejection. The
    sliding window's reset (when the current window ends) can be earlier than the moment its
    weighted count lets a request through."""
    decisions = result.decisions
    # Concurrency decisions (issue #15) have no window (0) and no quota over time to advertise.
    if all(d.block and d.window for d in decisions):
        blocking, worst = decisions, result.decision
    else:
        blocking = tuple(d for d in decisions if d.block and d.window)
        worst = Result(blocking).decision
    if worst is None:
        return {}
    policy_field = ", ".join([_policy_item(d.policy, d.limit, d.window) for d in blocking])
    reset = _seconds(worst.reset_after)
    if not worst.allowed:
        reset = max(reset, retry_after_seconds(worst), retry_after)
    elif retry_after:
        reset = max(reset, retry_after)
    return {
        "RateLimit-Policy": policy_field,
        "RateLimit": f"{_sf_name(worst.policy)};r={worst.remaining};t={reset}",
    }


def add_headers(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """Set the RateLimit fields for everything decided on this request (idempotent)."""
    result = getattr(request, "rate_limit", None)
    if result is not None and result.decisions and guard_settings().response.headers:
        retry_after = getattr(response, RETRY_AFTER_ATTR, 0)
        for name, value in rate_limit_headers(result, retry_after).items():
            response[name] = value
    return response


def record(request: HttpRequest, result: Result) -> None:
    """Add ``result`` to ``request.rate_limit`` (middleware and decorators together)."""
    previous = getattr(request, "rate_limit", None)
    request.rate_limit = previous + result if isinstance(previous, Result) else result  # type: ignore[attr-defined]
    decided = getattr(request, DECIDED_ATTR, None)
    names = {d.policy for d in result.decisions}
    setattr(request, DECIDED_ATTR, names if decided is None else decided | names)


def record_check(request: HttpRequest, result: Result) -> None:
    """Add what ``check()`` decided to ``request.rate_limit`` (a newer decision of a policy
    replaces an older one), without marking the policies decided: a decorator or the middleware
    still enforces its own policies as it would have."""
    decisions = result.decisions
    if not decisions:
        return
    previous = getattr(request, "rate_limit", None)
    if isinstance(previous, Result) and previous.decisions:
        old = previous.decisions
        # The same policies checked again replace the previous result whole (cheap: a view that
        # checks in a loop, and the benches, take this path).
        if len(old) != len(decisions) or (
            old[0].policy != decisions[0].policy
            if len(old) == 1
            else [d.policy for d in old] != [d.policy for d in decisions]
        ):
            names = {d.policy for d in decisions}
            result = Result([*(d for d in old if d.policy not in names), *decisions])
    request.rate_limit = result  # type: ignore[attr-defined]


def rejection_response(request: HttpRequest, decision: Decision | None) -> HttpResponse:
    """429 (the configured status), or 503 when a ``closed`` policy could not be decided."""
    config = guard_settings().response
    if config.view is not None and (decision is None or decision.source != "closed"):
        response = config.view(request, RateLimited(decision))
    elif decision is not None and decision.source == "closed":
        response = HttpResponse(
            "Service unavailable: the rate limiter could not decide this request.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    else:
        response = HttpResponse(
            "Too many requests.\n", status=config.status, content_type="text/plain; charset=utf-8"
        )
    if decision is not None:
        retry_after = retry_after_seconds(decision)
        response["Retry-After"] = str(retry_after)
        setattr(response, RETRY_AFTER_ATTR, retry_after)
    _summarize(request, response, decision)
    return add_headers(logs.already_logged(response), request)


def _summarize(request: HttpRequest, response: HttpResponse, decision: Decision | None) -> None:
    status = response.status_code
    policy = decision.policy if decision is not None else "?"
    source = decision.source if decision is not None else "?"
    logs.log(
        logger,
        logging.WARNING if status >= 500 else logging.INFO,
        f"rejected:{status}:{policy}",
        "Rejected with %d by policy %r (source %s): %s %r",
        status,
        policy,
        source,
        request.method,
        request.path[:200],
        extra={"policy": policy, "status_code": status, "source": source},
    )
