"""Operator actions shared by the admin status page and ``manage.py ratelimit_guard``.

Each returns a sentence describing what it did, or raises :class:`ActionError` with one the
operator can act on. Breakers and the fallback store live in each worker process, so the
breaker and fallback actions are recorded as fleet commands (``fleet.py``) that every process
applies; ``fleet_wide=False`` keeps the old behaviour (this process only).
"""

from __future__ import annotations

import logging
import re

from django.db import DatabaseError

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.exceptions import ActionError, StoreError
from django_ratelimit_guard.core.key_values import normalize_key_value
from django_ratelimit_guard.core.keys import hash_key_value
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.engine import decide, plan, registry
from django_ratelimit_guard.engine.breaker import CircuitBreaker
from django_ratelimit_guard.engine.breakers import all_breakers, get_breaker
from django_ratelimit_guard.ops import fleet
from django_ratelimit_guard.stores.fallback import fallback_store

logger = logging.getLogger("django_ratelimit_guard")

DIGEST_RE = re.compile(r"[0-9a-f]{24}")
MAX_KEY_VALUE = 512


def _breaker(scope: str) -> CircuitBreaker:
    return get_breaker(_known_scope(scope))


def _known_scope(scope: str) -> str:
    """``scope`` if it names a breaker: one of this process, the cache alias, one of its Cluster
    shards (``alias/host:port``, perhaps not yet seen by this process) or ``"*"`` (all)."""
    breakers = all_breakers()
    alias = guard_settings().cache_alias
    if (
        scope == fleet.ALL
        or scope == alias
        or scope in breakers
        or (scope.startswith(alias + "/") and len(scope) <= 255 and scope.isprintable())
    ):
        return scope
    known = ", ".join(sorted({*breakers, alias}))
    raise ActionError(
        f"No circuit breaker has the scope {scope!r}. Known scopes: {known}, or * for all."
    )


def _issue(action: str, scope: str, reason: str, by: str) -> str:
    """Record a command for every process (applied here at once); a sentence saying so."""
    try:
        command = fleet.issue(action, scope, reason, by)
    except DatabaseError as exc:
        raise ActionError(
            f"The command could not be recorded for the fleet, so nothing was changed: {exc}. "
            "The database carries fleet commands; once it is back, try again "
            "(manage.py ratelimit_guard ... --this-process acts on one process only).",
            unavailable=True,
        ) from exc
    poll = guard_settings().control.poll_seconds
    spread = (
        f"every process applies it within about {poll:g} s of its next request"
        if poll > 0
        else "other processes do not poll for commands (CONTROL['POLL_SECONDS'] is 0)"
    )
    return f"fleet command #{command.id}; applied in this process, {spread}"


def reset_breaker(scope: str, *, by: str = "", fleet_wide: bool = True) -> str:
    if not fleet_wide:
        _breaker(scope).reset()
        return f"Circuit breaker {scope!r} was reset to closed in this process only."
    _known_scope(scope)
    what = "Every circuit breaker" if scope == "*" else f"Circuit breaker {scope!r}"
    return f"{what} was reset to closed ({_issue('reset', scope, '', by)})."


def force_open(
    scope: str, reason: str = "maintenance", *, by: str = "", fleet_wide: bool = True
) -> str:
    reason = reason or "maintenance"
    if not fleet_wide:
        _breaker(scope).force_open(reason=reason)
        return f"Circuit breaker {scope!r} was forced open ({reason}) in this process until reset."
    _known_scope(scope)
    what = "Every circuit breaker" if scope == "*" else f"Circuit breaker {scope!r}"
    issued = _issue("force_open", scope, reason, by)
    return f"{what} was forced open ({reason}) until reset ({issued})."


def clear_fallback(*, by: str = "", fleet_wide: bool = True) -> str:
    store = fallback_store()
    if not fleet_wide:
        entries = store.entries
        store.clear()
        return f"The in-memory fallback store of this process was cleared ({entries} entries)."
    return f"The in-memory fallback store was cleared ({_issue('clear_fallback', '*', '', by)})."


def _policy(name: str) -> Policy:
    try:
        return registry.get_policy(name)
    except KeyError:
        known = ", ".join(sorted(registry.all_policies())) or "none"
        raise ActionError(f"There is no policy {name!r}. Known policies: {known}.") from None


def reset_client(
    policy_name: str, key_value: str | None = None, digest: str | None = None, *, by: str = ""
) -> str:
    """Clear one client's counter of a policy, by raw key value (e.g. an IP) or by its digest."""
    policy = _policy(policy_name)
    if digest is not None:
        if not DIGEST_RE.fullmatch(digest):
            raise ActionError("The client digest must be 24 lowercase hexadecimal characters.")
        code = "cc" if policy.concurrency is not None else policy.algorithm.code
        keys = [f"{guard_settings().key_prefix}:{{{digest}}}:{policy.name}:{code}"]
        what = f"client {digest}"
    else:
        # issue #13 item 9: validated and normalized for the policy's key kind (an "ip" policy
        # gets the bucket client_ip gives that address), so a typo is an error, not a no-op.
        if not key_value or len(key_value) > MAX_KEY_VALUE or not key_value.isprintable():
            raise ActionError(f"The key value must be 1 to {MAX_KEY_VALUE} printable characters.")
        try:
            value = normalize_key_value(policy.key, key_value or "", guard_settings().client_ip)
        except ValueError as exc:
            raise ActionError(
                f"Policy {policy.name!r} keys on {policy.key.spec!r}: {exc}."
            ) from None
        keys = [plan.storage_key(guard_settings(), policy, value)]
        what = f"client {hash_key_value(value, guard_settings().key_secret)}"
    for key in keys:  # per-client state in this process (local denials) forgets the client
        bus.client_reset.publish(policy.name, key)
    try:
        decide.reset_keys(keys)
    except StoreError as exc:
        raise ActionError(
            f"The in-memory counter of {what} for {policy.name!r} was cleared, but Redis could not "
            f"be reached: {exc}",
            unavailable=True,
        ) from exc
    spread = _spread(policy, keys[0], by)
    return f"The counter of {what} for policy {policy.name!r} was reset ({spread})."


def _spread(policy: Policy, key: str, by: str) -> str:
    """After Redis: every process forgets its remembered denial of the client (a fleet command;
    issued first, a process could ask Redis before the reset and remember the denial again)."""
    if len(key) > 255:  # the command's scope column; policy names this long are not practical
        return "other processes forget it at its retry time: its key is too long for the fleet"
    try:
        return _issue(fleet.RESET_CLIENT, key, policy.name, by)
    except ActionError:
        return (
            "other processes could not be told (the database failed): they forget it at its "
            "retry time"
        )
