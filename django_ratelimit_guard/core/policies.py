"""Policies: which rate, which key, which algorithm, and what to do when the store fails."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeGuard

from django.http import HttpRequest
from django.utils.module_loading import import_string

from django_ratelimit_guard.core.algorithms import Algorithm
from django_ratelimit_guard.core.capabilities import (
    CAPABILITY_FIELDS,
    DEFAULT_CONCURRENCY_TIMEOUT,
    CountWhen,
    SkipFunc,
    build_capabilities,
    no_rate,
)
from django_ratelimit_guard.core.keys import ClientIPSettings, IPNetwork, KeySpec, build_key
from django_ratelimit_guard.core.problems import Problem, error
from django_ratelimit_guard.core.rates import Rate, RateError, parse_rate

RateFunc = Callable[[HttpRequest], str | None]
CostFunc = Callable[[HttpRequest], int]

MAX_COST = 1_000_000_000
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class FailMode(str, Enum):
    MEMORY = "memory"
    CLOSED = "closed"
    OPEN = "open"


POLICY_FIELDS = frozenset(
    {
        "rate",
        "key",
        "algorithm",
        "methods",
        "paths",
        "exempt_paths",
        "fail_mode",
        "cost",
        "block",
        "critical",
        "fallback_rate",
        *CAPABILITY_FIELDS,  # issue #15: core/capabilities.py
    }
)


@dataclass(frozen=True, eq=False)
class Policy:
    name: str
    rate: Rate | RateFunc
    key: KeySpec
    algorithm: Algorithm = Algorithm.SLIDING_WINDOW
    methods: frozenset[str] | None = None
    paths: tuple[str, ...] = ()
    exempt_paths: tuple[str, ...] = ()
    fail_mode: FailMode = FailMode.MEMORY
    cost: int | CostFunc = 1
    block: bool = True
    critical: bool = False
    fallback_rate: Rate | None = None
    # How the rate was written, for the admin page and `status` (a callable shows its path).
    rate_text: str = field(default="")
    # issue #15 (core/capabilities.py); all off by default.
    exempt_ips: tuple[IPNetwork, ...] = ()
    skip_if: SkipFunc | None = None
    count_when: CountWhen | None = None
    concurrency: int | None = None  # a concurrency policy: its rate is ``no_rate``
    concurrency_timeout: int = DEFAULT_CONCURRENCY_TIMEOUT
    #: exempt_ips or skip_if: ``plan()`` asks ``engine/exemptions.py`` (one flag per policy).
    screened: bool = field(default=False, init=False)
    #: count_when or concurrency: the view is wrapped by ``edge/staged.py``.
    staged: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "screened", bool(self.exempt_ips) or self.skip_if is not None)
        object.__setattr__(
            self, "staged", self.count_when is not None or self.concurrency is not None
        )

    def applies_to_method(self, method: str | None) -> bool:
        return self.methods is None or (method or "").upper() in self.methods

    def applies_to_path(self, path: str) -> bool:
        """Whether the middleware applies this policy to ``path`` (by prefix)."""
        # str.startswith takes the tuple whole: one C call instead of a generator per prefix.
        return path.startswith(self.paths) and not path.startswith(self.exempt_paths)

    def is_exempt_path(self, path: str) -> bool:
        return path.startswith(self.exempt_paths)

    def fallback_limit(self, rate: Rate, workers: int) -> Rate:
        """The rate enforced per process by the memory fallback store."""
        if self.fallback_rate is not None:
            return self.fallback_rate
        return Rate(max(1, math.ceil(rate.limit / workers)), rate.window)


@functools.lru_cache(maxsize=512)
def cached_rate(text: str) -> Rate:
    """Rates returned by rate callables are parsed once per distinct string."""
    return parse_rate(text)


def _where(name: str, inline: bool) -> str:
    return f"rate_limit(...) on {name}" if inline else f"RATELIMIT_GUARD['POLICIES'][{name!r}]"


def build_policy(
    name: str,
    raw: object,
    *,
    default_fail_mode: FailMode,
    client_ip: Callable[[], ClientIPSettings],
    inline: bool = False,
) -> tuple[Policy | None, list[Problem]]:
    """Validate one policy dict; return the policy (or None) and every problem found."""
    where = _where(name, inline)
    problems: list[Problem] = []
    if not isinstance(raw, Mapping):
        return None, [
            error(8, f"{where} is {type(raw).__name__}: expected a dict of policy fields.")
        ]
    if not name or not all(" " <= c <= "~" and c not in '"\\' for c in name):
        problems.append(
            error(
                17,
                f"The policy name {name!r} must be printable ASCII without quotes or backslashes.",
                "It is sent in the RateLimit-Policy header.",
            )
        )
    unknown = sorted(set(raw) - POLICY_FIELDS)
    if unknown:
        problems.append(
            error(
                14,
                f"{where} has unknown field(s) {', '.join(map(repr, unknown))}.",
                f"Known fields: {', '.join(sorted(POLICY_FIELDS))}.",
            )
        )

    rate: Rate | RateFunc | None = None
    rate_text = ""
    capabilities = build_capabilities(raw, where, problems)
    if raw.get("concurrency") is not None:
        rate, rate_text = no_rate, f"{raw['concurrency']} in flight"
    elif "rate" not in raw:
        problems.append(
            error(
                2,
                f"{where} has no 'rate'.",
                "Add a rate such as '100/m' (or 'concurrency': N to limit requests in flight).",
            )
        )
    else:
        raw_rate = raw["rate"]
        if callable(raw_rate):
            rate, rate_text = raw_rate, _callable_name(raw_rate)
        elif isinstance(raw_rate, str) and "/" not in raw_rate and "." in raw_rate:
            try:
                imported = import_string(raw_rate)
            except ImportError as exc:
                problems.append(
                    error(2, f"{where}['rate'] {raw_rate!r} could not be imported: {exc}")
                )
            else:
                if callable(imported):
                    rate, rate_text = imported, raw_rate
                else:
                    problems.append(error(2, f"{where}['rate'] {raw_rate!r} is not callable."))
        else:
            try:
                rate = parse_rate(raw_rate)
                rate_text = str(raw_rate)
            except RateError as exc:
                problems.append(
                    error(
                        2,
                        f"{where}['rate'] is {raw_rate!r}: {exc}.",
                        "Units are s, m, h, d; a multiplier is allowed: '10/5m'. "
                        "1 <= N <= 1,000,000,000 and the window is at most 7 days.",
                    )
                )

    key: KeySpec | None = None
    try:
        key = build_key(raw.get("key", "ip"), client_ip)
    except ValueError as exc:
        problems.append(error(4, f"{where}['key']: {exc}."))

    algorithm = Algorithm.SLIDING_WINDOW
    if "algorithm" in raw:
        try:
            algorithm = Algorithm(raw["algorithm"])
        except ValueError:
            problems.append(
                error(
                    3,
                    f"{where}['algorithm'] is {raw['algorithm']!r}.",
                    "Use 'fixed_window', 'sliding_window' or 'token_bucket'.",
                )
            )

    methods: frozenset[str] | None = None
    if raw.get("methods") is not None:
        value = raw["methods"]
        if isinstance(value, str) or not _is_str_list(value) or not value:
            problems.append(
                error(16, f"{where}['methods'] must be a non-empty list of HTTP methods.")
            )
        else:
            methods = frozenset(m.upper() for m in value)
            bad = sorted(methods - HTTP_METHODS)
            if bad:
                problems.append(error(16, f"{where}['methods'] has unknown method(s) {bad}."))

    paths = _paths(raw, "paths", where, problems)
    exempt_paths = _paths(raw, "exempt_paths", where, problems)

    fail_mode = default_fail_mode
    if "fail_mode" in raw:
        try:
            fail_mode = FailMode(raw["fail_mode"])
        except ValueError:
            problems.append(
                error(
                    5,
                    f"{where}['fail_mode'] is {raw['fail_mode']!r}.",
                    "Use 'memory', 'closed' or 'open'.",
                )
            )

    cost: int | CostFunc = 1
    if "cost" in raw:
        value = raw["cost"]
        if callable(value) or (
            isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_COST
        ):
            cost = value
        else:
            problems.append(
                error(8, f"{where}['cost'] is {value!r}: expected an int >= 1 or a callable.")
            )

    flags = {}
    for flag, default in (("block", True), ("critical", False)):
        value = raw.get(flag, default)
        if not isinstance(value, bool):
            problems.append(error(8, f"{where}[{flag!r}] is {value!r}: expected True or False."))
            value = default
        flags[flag] = value

    if flags["critical"] and fail_mode is FailMode.OPEN:
        inherited = "" if "fail_mode" in raw else " (inherited from DEFAULT_FAIL_MODE)"
        problems.append(
            error(
                9,
                f"{where} is critical but its fail_mode is 'open'{inherited}: a Redis outage would "
                "make it unlimited.",
                "Use fail_mode 'memory' or 'closed' for security-critical limits.",
            )
        )

    fallback_rate: Rate | None = None
    if raw.get("fallback_rate") is not None:
        try:
            fallback_rate = parse_rate(raw["fallback_rate"])
        except RateError as exc:
            problems.append(error(2, f"{where}['fallback_rate']: {exc}."))

    if problems or rate is None or key is None:
        return None, problems
    return (
        Policy(
            name=name,
            rate=rate,
            key=key,
            algorithm=algorithm,
            methods=methods,
            paths=paths,
            exempt_paths=exempt_paths,
            fail_mode=fail_mode,
            cost=cost,
            block=flags["block"],
            critical=flags["critical"],
            fallback_rate=fallback_rate,
            rate_text=rate_text,
            **capabilities,
        ),
        [],
    )


def _callable_name(func: object) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def _is_str_list(value: object) -> TypeGuard[list[str] | tuple[str, ...]]:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _paths(
    raw: Mapping[str, object], field_name: str, where: str, problems: list[Problem]
) -> tuple[str, ...]:
    value = raw.get(field_name)
    if value is None:
        return ()
    if isinstance(value, str) or not _is_str_list(value):
        problems.append(error(16, f"{where}[{field_name!r}] must be a list of path prefixes."))
        return ()
    bad = [p for p in value if not p.startswith("/")]
    if bad:
        problems.append(
            error(16, f"{where}[{field_name!r}] has prefixes not starting with '/': {bad}.")
        )
    return tuple(value)
