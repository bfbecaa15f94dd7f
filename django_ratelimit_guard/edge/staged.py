"""Policies decided in stages around the view (issue #15): ``count_when`` and ``concurrency``.

``RateLimitMiddleware`` and ``@rate_limit`` hand a request here instead of deciding it in one
call when one of its policies is ``staged`` (``registry.has_staged()`` keeps every other project
off this path). :func:`respond` / :func:`arespond`, in order:

1. **Concurrency slots** (``engine/concurrency.py``): taken first, so that a request refused for
   want of a slot consumes none of its rate budgets; full → 429 with ``Retry-After: 1``.
2. **count_when policies, peeked** (``count=False``): a client already over the limit → 429.
3. **Every other policy, counted** as usual, in one round trip.
4. The view.
5. **count_when policies, counted** when ``count_when`` matches the response (one round trip,
   before the response is returned; awaited on the async path). The response's RateLimit fields
   then report the state after this request. If that count fails (Redis down) the policy's fail
   mode decides as for any call; whatever happens, a response that was built is returned as it
   is — never a 500.
6. **The slots given back** in a ``finally``: on success, when the view raises, and when an ASGI
   client disconnects (Django cancels the view's task; the release is shielded from a second
   cancellation) — or, for a streaming response, when the server closes it after its last chunk.
   A slot that could not be given back expires after ``concurrency_timeout``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.decisions import Decision, Result
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.edge.responses import add_headers, record, rejection_response
from django_ratelimit_guard.engine import concurrency, limiter, outcomes

logger = logging.getLogger("django_ratelimit_guard")

View = Callable[[HttpRequest], HttpResponse]
AsyncView = Callable[[HttpRequest], Awaitable[HttpResponse]]


def any_staged(policies: Sequence[Policy]) -> bool:
    return any(policy.staged for policy in policies)


def _split(policies: Sequence[Policy]) -> tuple[list[Policy], list[Policy], list[Policy]]:
    plain: list[Policy] = []
    deferred: list[Policy] = []
    slots: list[Policy] = []
    for policy in policies:
        if policy.concurrency is not None:
            slots.append(policy)
        elif policy.count_when is not None:
            deferred.append(policy)
        else:
            plain.append(policy)
    return plain, deferred, slots


def _replace(request: HttpRequest, result: Result) -> None:
    """Put ``result``'s decisions on ``request.rate_limit`` in place of the peeked ones."""
    names = {d.policy for d in result.decisions}
    previous = getattr(request, "rate_limit", None)
    kept = [d for d in previous.decisions if d.policy not in names] if previous else []
    request.rate_limit = Result([*kept, *result.decisions])  # type: ignore[attr-defined]


def _rejected_peek(request: HttpRequest, result: Result) -> HttpResponse:
    # A peek publishes nothing; this rejection is real: metrics, most-limited clients, signal.
    bus.decided.publish(request, result)
    bus.limited.publish(request, result)
    return rejection_response(request, result.decision)


def _before(
    request: HttpRequest, plain: list[Policy], deferred: list[Policy]
) -> HttpResponse | None:
    if deferred:
        peek = limiter.decide(request, deferred, count=False)
        record(request, peek)
        if peek.rejected:
            return _rejected_peek(request, peek)
    if plain:
        result = limiter.decide(request, plain)
        record(request, result)
        if result.rejected:
            return rejection_response(request, result.decision)
    return None


def _uncounted(decision: Decision, policy: Policy) -> Decision:
    """A peeked decision as the state after a response that did not count: the engine's peek
    reports what would remain *after* one more hit, and this response was not one."""
    cost = policy.cost if isinstance(policy.cost, int) else 1
    return replace(decision, remaining=min(decision.limit, decision.remaining + cost))


def _settle(request: HttpRequest, deferred: list[Policy], matched: list[Policy]) -> None:
    """The decisions of the count_when policies this response did not count, as they stand."""
    result = getattr(request, "rate_limit", None)
    if len(matched) == len(deferred) or not isinstance(result, Result):
        return
    names = {p.name for p in matched}
    by_name = {p.name: p for p in deferred if p.name not in names}
    kept = [
        _uncounted(d, by_name[d.policy])
        for d in result.decisions
        if d.policy in by_name and d.allowed
    ]
    _replace(request, Result(kept))


_FAILED = "Counting the outcome of a response failed; the response is returned."


def _count_after(request: HttpRequest, deferred: list[Policy], response: HttpResponse) -> None:
    try:
        matched = outcomes.counted(deferred, request, response)
        if matched:
            _replace(request, limiter.decide(request, matched))
        _settle(request, deferred, matched)
    except Exception:  # the response is built: it goes out whatever happened here
        logger.exception(_FAILED)


async def _acount_after(
    request: HttpRequest, deferred: list[Policy], response: HttpResponse
) -> None:
    try:
        if all(isinstance(p.count_when, frozenset) for p in deferred):
            matched = outcomes.counted(deferred, request, response)  # status codes: pure
        else:  # user predicates may be sync-only code (the ORM)
            matched = await sync_to_async(outcomes.counted)(deferred, request, response)
        if matched:
            _replace(request, await limiter.adecide(request, matched))
        _settle(request, deferred, matched)
    except Exception:
        logger.exception(_FAILED)


async def _abefore(
    request: HttpRequest, plain: list[Policy], deferred: list[Policy]
) -> HttpResponse | None:
    if deferred:
        peek = await limiter.adecide(request, deferred, count=False)
        record(request, peek)
        if peek.rejected:
            return await sync_to_async(_rejected_peek)(request, peek)
    if plain:
        result = await limiter.adecide(request, plain)
        record(request, result)
        if result.rejected:
            return rejection_response(request, result.decision)
    return None


def _release_on_close(response: HttpResponse, leases: concurrency.Leases) -> bool:
    """A streaming response holds its slots until the server closes it (after the last chunk,
    or when the client went away): Django calls its resource closers then."""
    if not getattr(response, "streaming", False):
        return False
    closers: list[Callable[[], object]] = response._resource_closers  # type: ignore[attr-defined]
    closers.append(functools.partial(concurrency.release, leases))
    return True


def respond(request: HttpRequest, policies: Sequence[Policy], view: View) -> HttpResponse:
    """Decide ``policies`` in stages around ``view(request)`` (module docstring)."""
    plain, deferred, slots = _split(policies)
    leases = None
    if slots:
        leases, taken = concurrency.acquire(request, slots)
        record(request, taken)
        if taken.rejected:
            return rejection_response(request, taken.decision)
    try:
        refused = _before(request, plain, deferred)
        if refused is not None:
            return refused
        response = view(request)
        if deferred:
            _count_after(request, deferred, response)
        if leases and _release_on_close(response, leases):
            leases = None  # the body is still to be streamed: the slot is held until then
        return add_headers(response, request)
    finally:
        if leases:
            concurrency.release(leases)


async def arespond(
    request: HttpRequest, policies: Sequence[Policy], view: AsyncView
) -> HttpResponse:
    """The async twin of :func:`respond`."""
    plain, deferred, slots = _split(policies)
    leases = None
    if slots:
        leases, taken = await sync_to_async(concurrency.acquire, thread_sensitive=False)(
            request, slots
        )
        record(request, taken)
        if taken.rejected:
            return rejection_response(request, taken.decision)
    try:
        refused = await _abefore(request, plain, deferred)
        if refused is not None:
            return refused
        response = await view(request)
        if deferred:
            await _acount_after(request, deferred, response)
        if leases and _release_on_close(response, leases):
            leases = None
        return add_headers(response, request)
    finally:
        if leases:
            # Shielded: a second cancellation of a disconnected client's task must not cut the
            # release short (the lease would then wait out concurrency_timeout).
            await asyncio.shield(sync_to_async(concurrency.release, thread_sensitive=False)(leases))


__all__ = ["any_staged", "arespond", "respond"]
