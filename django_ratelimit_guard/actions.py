"""Operator actions shared by the admin status page and ``manage.py ratelimit_guard``.

Each returns a sentence describing what it did, or raises :class:`ActionError` with one the
operator can act on. Breakers and the fallback store live in each worker process: an action
applies to the process that runs it (the page says which host and pid that is).
"""

from __future__ import annotations

import logging
import re

from django_ratelimit_guard import guard, registry, resilience_bridge
from django_ratelimit_guard.conf import guard_settings
from django_ratelimit_guard.exceptions import StoreError
from django_ratelimit_guard.policies import Policy

logger = logging.getLogger("django_ratelimit_guard")

DIGEST_RE = re.compile(r"[0-9a-f]{24}")
MAX_KEY_VALUE = 512


class ActionError(Exception):
    """The action could not be done; the message says why and what to do.

    ``unavailable`` is true when the store failed (as opposed to bad input).
    """

    def __init__(self, message: str, *, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


def _breaker(scope: str) -> object:
    breakers = resilience_bridge.all_breakers()
    if breakers is None:
        raise ActionError("Circuit breakers are not available in this installation.")
    if scope not in breakers and scope != guard_settings().cache_alias:
        known = ", ".join(sorted({*breakers, guard_settings().cache_alias}))
        raise ActionError(f"No circuit breaker has the scope {scope!r}. Known scopes: {known}.")
    return resilience_bridge.get_breaker(scope)


def reset_breaker(scope: str) -> str:
    breaker = _breaker(scope)
    breaker.reset()  # type: ignore[attr-defined]
    return f"Circuit breaker {scope!r} was reset to closed."


def force_open(scope: str, reason: str = "maintenance") -> str:
    breaker = _breaker(scope)
    breaker.force_open(reason=reason or "maintenance")  # type: ignore[attr-defined]
    return f"Circuit breaker {scope!r} was forced open ({reason or 'maintenance'}) until reset."


def clear_fallback() -> str:
    store = resilience_bridge.fallback_store()
    if store is None:
        raise ActionError("The in-memory fallback store is not available in this installation.")
    entries = store.entries
    store.clear()
    return f"The in-memory fallback store was cleared ({entries} entries)."


def _policy(name: str) -> Policy:
    try:
        return registry.get_policy(name)
    except KeyError:
        known = ", ".join(sorted(registry.all_policies())) or "none"
        raise ActionError(f"There is no policy {name!r}. Known policies: {known}.") from None


def reset_client(policy_name: str, key_value: str | None = None, digest: str | None = None) -> str:
    """Clear one client's counter of a policy, by raw key value (e.g. an IP) or by its digest."""
    from django_ratelimit_guard import limiter

    policy = _policy(policy_name)
    if digest is not None:
        if not DIGEST_RE.fullmatch(digest):
            raise ActionError("The client digest must be 24 lowercase hexadecimal characters.")
        keys = [f"{guard_settings().key_prefix}:{{{digest}}}:{policy.name}:{policy.algorithm.code}"]
        what = f"client {digest}"
    else:
        if not key_value or len(key_value) > MAX_KEY_VALUE or not key_value.isprintable():
            raise ActionError(f"The key value must be 1 to {MAX_KEY_VALUE} printable characters.")
        keys = [limiter.storage_key(guard_settings(), policy, key_value)]
        what = "the client"
    try:
        guard.reset_keys(keys)
    except StoreError as exc:
        raise ActionError(
            f"The in-memory counter of {what} for {policy.name!r} was cleared, but Redis could not "
            f"be reached: {exc}",
            unavailable=True,
        ) from exc
    return f"The counter of {what} for policy {policy.name!r} was reset."
