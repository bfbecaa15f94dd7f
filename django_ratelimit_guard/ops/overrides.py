"""Runtime overrides (issue #15): rules for one client of one policy, kept in the database.

An operator adds, lists and removes rules in the admin (model "Rate-limit override") or with
``manage.py ratelimit_guard override ...``; both call :func:`add` / :func:`remove` here, which
validate the policy, the key value (for the policy's key kind, ``core/key_values.py``, as
``reset-key`` does) and the rate, and apply the change in their own process at once.

Every worker reads the rules in its fleet poll (``fleet_poll.py`` calls :func:`sync` after the
fleet commands, from its poller thread: no request waits on the database) and installs them in
``engine/overrides.py``. Each worker publishes ``bus.client_reset(policy, storage_key)`` for every
client whose rule appeared, changed or went away, so per-client state in the process (local
denials) forgets what the old rule decided. The database carries the rules, never Redis: they
apply, and a block costs no Redis call, whatever Redis is doing.

:func:`sync` never raises: a failing database is logged (at most once a minute) and the worker
keeps the rules it has.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.core.exceptions import ActionError
from django_ratelimit_guard.core.key_values import normalize_key_value
from django_ratelimit_guard.core.keys import hash_key_value
from django_ratelimit_guard.core.rates import RateError, parse_rate
from django_ratelimit_guard.engine import overrides as engine_overrides
from django_ratelimit_guard.engine import registry
from django_ratelimit_guard.engine.overrides import ACTIONS, RATE, Rule
from django_ratelimit_guard.ops.models import RateLimitOverride

logger = logging.getLogger("django_ratelimit_guard")

#: At most this many rules are read per poll (the newest first): a bound on each worker's table.
MAX_RULES = 10_000
#: Expired rules are deleted this long after they expired (the status page shows them meanwhile).
KEEP_EXPIRED = timedelta(days=1)
DB_ERROR_LOG_INTERVAL = 60.0

_DURATION_RE = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 366 * 86400


@dataclass
class _State:
    error: str | None = None
    error_logged: float = float("-inf")
    synced_at: datetime | None = None


_state = _State()


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h``, ``7d`` (up to a year) → a timedelta; ``ActionError`` otherwise."""
    match = _DURATION_RE.fullmatch(text.strip())
    seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not match or seconds > MAX_DURATION:
        raise ActionError(
            f"The duration {text!r} is not a number and a unit (s, m, h, d) such as 90s, 30m, 1h "
            "or 7d, of at most 366 days."
        )
    return timedelta(seconds=seconds)


def normalized_key(policy_name: str, key_value: str) -> str:
    """``key_value`` validated and normalized for the policy's key kind, or ``ActionError``."""
    policy = _policy(policy_name)
    try:
        return normalize_key_value(policy.key, key_value, guard_settings().client_ip)
    except ValueError as exc:
        raise ActionError(f"Policy {policy.name!r} keys on {policy.key.spec!r}: {exc}.") from None


def _policy(name: str):  # type: ignore[no-untyped-def]
    try:
        return registry.get_policy(name)
    except KeyError:
        known = ", ".join(sorted(registry.all_policies())) or "none"
        raise ActionError(f"There is no policy {name!r}. Known policies: {known}.") from None


def digest(key_value: str) -> str:
    """The client's digest (what Redis and the admin log know of it)."""
    return hash_key_value(key_value, guard_settings().key_secret)


def validate(
    policy_name: str, key_value: str, action: str, rate: str, expires_at: datetime | None
) -> tuple[str, str]:
    """Check one rule's fields; return the normalized key value and rate text."""
    if action not in ACTIONS:
        raise ActionError(f"The action must be one of {', '.join(ACTIONS)}, not {action!r}.")
    policy = _policy(policy_name)
    key = normalized_key(policy_name, key_value)
    rate = (rate or "").strip()
    if action == RATE:
        if policy.concurrency is not None:
            raise ActionError(
                f"Policy {policy.name!r} limits requests in flight, not a rate: block or allow "
                "its clients instead."
            )
        try:
            rate = str(parse_rate(rate))
        except RateError as exc:
            raise ActionError(f"The rate is not valid: {exc}. Use e.g. '1000/m'.") from None
    elif rate:
        raise ActionError(f"A {action!r} rule takes no rate (only 'rate' rules do).")
    if expires_at is not None and expires_at <= timezone.now():
        raise ActionError("The rule would expire in the past: give a later expiry.")
    return key, rate


def add(
    policy_name: str,
    key_value: str,
    action: str,
    *,
    rate: str = "",
    duration: timedelta | None = None,
    reason: str = "",
    by: str = "",
) -> tuple[RateLimitOverride, bool]:
    """Add (or replace) the rule of one client of one policy; ``(rule, replaced)``."""
    expires_at = timezone.now() + duration if duration is not None else None
    key, rate = validate(policy_name, key_value, action, rate, expires_at)
    alias = router.db_for_write(RateLimitOverride)
    try:
        with transaction.atomic(using=alias):
            existing = (
                RateLimitOverride.objects.using(alias)
                .select_for_update()
                .filter(policy=policy_name, key=key)
                .first()
            )
            row = existing or RateLimitOverride(policy=policy_name, key=key)
            row.action, row.rate, row.expires_at = action, rate, expires_at
            row.reason, row.created_by, row.created_at = reason[:255], by[:255], timezone.now()
            row.save(using=alias)
            prune(alias)
    except (DatabaseError, IntegrityError) as exc:
        raise ActionError(
            f"The rule could not be saved, so nothing changed: {exc}.", unavailable=True
        ) from exc
    sync()
    return row, existing is not None


def remove(rule_id: int) -> RateLimitOverride:
    """Delete one rule by id; ``ActionError`` when there is none."""
    try:
        row: RateLimitOverride | None = RateLimitOverride.objects.filter(pk=rule_id).first()
        if row is None:
            raise ActionError(f"There is no override #{rule_id}.")
        row.delete()
    except DatabaseError as exc:
        raise ActionError(f"The rule could not be removed: {exc}.", unavailable=True) from exc
    sync()
    return row


def active_rows() -> list[RateLimitOverride]:
    """The rules in force, newest first (raises DatabaseError)."""
    now = timezone.now()
    return list(
        RateLimitOverride.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        ).order_by("-id")[:MAX_RULES]
    )


def to_json(row: RateLimitOverride) -> dict[str, object]:
    return {
        "id": row.pk,
        "policy": row.policy,
        "key": row.key,
        "action": row.action,
        "rate": row.rate or None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "reason": row.reason,
    }


def prune(alias: str = "default") -> None:
    """Delete rules that expired more than ``KEEP_EXPIRED`` ago (their raw key values too)."""
    RateLimitOverride.objects.using(alias).filter(
        expires_at__lt=timezone.now() - KEEP_EXPIRED
    ).delete()


def _rule(row: RateLimitOverride) -> Rule:
    rate = None
    if row.action == RATE:
        try:
            rate = parse_rate(row.rate)
        except RateError:
            rate = None  # edited by hand in the database: the rule does nothing
    return Rule(
        id=row.pk,
        policy=row.policy,
        key=row.key,
        action=row.action,
        rate=rate,
        expires_at=row.expires_at.timestamp() if row.expires_at else None,
        reason=row.reason,
    )


def sync() -> bool:
    """Read the rules in force and install them in this process. Never raises; False when the
    database could not be read (the process keeps the rules it has)."""
    try:
        rows = active_rows()
    except Exception as exc:  # DatabaseError, a missing table (not migrated), no database
        _failed(exc)
        return False
    changed = engine_overrides.install([_rule(row) for row in rows])
    for policy, key in changed:
        bus.client_reset.publish(policy, key)
    if _state.error is not None:
        logger.info("Rate-limit overrides are readable again.", extra={"event": "overrides_db"})
        _state.error = None
    _state.synced_at = timezone.now()
    return True


def _failed(exc: Exception) -> None:
    _state.error = f"{type(exc).__name__}: {exc}"[:300]
    now = time.monotonic()
    if now - _state.error_logged >= DB_ERROR_LOG_INTERVAL:
        _state.error_logged = now
        logger.error(
            "Rate-limit overrides could not be read from the database (%s); this process keeps "
            "the rules it has and retries on its next poll.",
            _state.error,
            extra={"event": "overrides_db_error", "error": _state.error},
        )


def last_error() -> str | None:
    return _state.error


def synced_at() -> datetime | None:
    return _state.synced_at


__all__ = [
    "MAX_RULES",
    "active_rows",
    "add",
    "digest",
    "last_error",
    "normalized_key",
    "parse_duration",
    "prune",
    "remove",
    "sync",
    "synced_at",
    "to_json",
    "validate",
]
