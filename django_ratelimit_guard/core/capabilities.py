"""The policy fields of issue #15, validated: ``exempt_ips``, ``skip_if``, ``count_when``,
``concurrency``, ``concurrency_timeout``.

``policies.build_policy`` calls :func:`build_capabilities` with the raw policy dict; every problem
is collected (ids ``E110``-``E119``, listed in docs/checks.md) so that ``manage.py check``, the
app's ``ready()`` and an inline ``@rate_limit(...)`` report them all at once. Nothing here runs
per request: the engine reads the validated values (``engine/exemptions.py``,
``engine/outcomes.py``, ``engine/concurrency.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from django_ratelimit_guard.core.keys import IPNetwork
from django_ratelimit_guard.core.problems import Problem, error

SkipFunc = Callable[[HttpRequest], object]
CountFunc = Callable[[HttpRequest, HttpResponse], object]
#: ``count_when``: the status codes that count, or a predicate of the request and its response.
CountWhen = frozenset[int] | CountFunc

CAPABILITY_FIELDS = frozenset(
    {"exempt_ips", "skip_if", "count_when", "concurrency", "concurrency_timeout"}
)
#: Fields that only mean something for a counted rate: a concurrency policy refuses them.
RATE_ONLY_FIELDS = ("algorithm", "cost", "fallback_rate", "count_when")

DEFAULT_CONCURRENCY_TIMEOUT = 60
MAX_CONCURRENCY = 1_000_000
MAX_CONCURRENCY_TIMEOUT = 86_400


def no_rate(request: HttpRequest) -> None:
    """The ``rate`` of a concurrency policy: it counts no rate, so ``plan()`` skips it (the
    in-flight slots are taken by ``engine/concurrency.py``)."""


def _callable(
    value: object, where: str, field: str, number: int, problems: list[Problem]
) -> Callable[..., object] | None:
    """A callable, or the callable a dotted path names; None (and a problem) otherwise."""
    if callable(value):
        return value
    if isinstance(value, str) and "." in value:
        try:
            imported = import_string(value)
        except ImportError as exc:
            problems.append(
                error(number, f"{where}[{field!r}] {value!r} could not be imported: {exc}")
            )
            return None
        if callable(imported):
            return imported  # type: ignore[no-any-return]
        problems.append(error(number, f"{where}[{field!r}] {value!r} is not callable."))
        return None
    problems.append(
        error(
            number,
            f"{where}[{field!r}] is {value!r}: expected a callable or the dotted path to one.",
            "For example 'myapp.limits.is_health_check'.",
        )
    )
    return None


def _exempt_ips(value: object, where: str, problems: list[Problem]) -> tuple[IPNetwork, ...]:
    hint = "A list of CIDRs such as ['10.0.0.0/8', '2001:db8::/32'] (a bare address is a /32)."
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        problems.append(error(110, f"{where}['exempt_ips'] must be a list of CIDRs.", hint))
        return ()
    networks: list[IPNetwork] = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            problems.append(
                error(110, f"{where}['exempt_ips'] has {item!r}, which is not a CIDR.", hint)
            )
    return tuple(networks)


def _count_when(value: object, where: str, problems: list[Problem]) -> CountWhen | None:
    if isinstance(value, (list, tuple, set, frozenset)):
        codes = list(value)
        if not codes or not all(
            isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
        ):
            problems.append(
                error(
                    112,
                    f"{where}['count_when'] is {value!r}: expected a non-empty list of HTTP "
                    "status codes (100-599), or a callable (request, response) -> bool.",
                    "For example [401, 403]: only failed logins count.",
                )
            )
            return None
        return frozenset(codes)
    return _callable(value, where, "count_when", 112, problems)


def _int_in(
    value: object, low: int, high: int, where: str, field: str, number: int, hint: str
) -> Problem | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return None
    return error(number, f"{where}[{field!r}] is {value!r}: expected an int {low} to {high}.", hint)


def _concurrency(
    raw: Mapping[str, Any], where: str, problems: list[Problem], out: dict[str, Any]
) -> None:
    concurrent = raw.get("concurrency") is not None
    if concurrent:
        problem = _int_in(
            raw["concurrency"],
            1,
            MAX_CONCURRENCY,
            where,
            "concurrency",
            113,
            "The number of requests of one client that may be in flight at once, e.g. 2.",
        )
        if problem is not None:
            problems.append(problem)
        else:
            out["concurrency"] = raw["concurrency"]
        if "rate" in raw:
            problems.append(
                error(
                    114,
                    f"{where} has both 'rate' and 'concurrency'.",
                    "A policy limits either a rate or the requests in flight: split it into two "
                    "policies and name both on the view.",
                )
            )
        clashing = [f for f in RATE_ONLY_FIELDS if raw.get(f) is not None]
        if clashing:
            problems.append(
                error(
                    116,
                    f"{where} is a concurrency policy but sets {', '.join(map(repr, clashing))}, "
                    "which only apply to a counted rate.",
                    "Remove them, or put them on a separate rate policy.",
                )
            )
    if raw.get("concurrency_timeout") is not None:
        if not concurrent:
            problems.append(
                error(
                    115,
                    f"{where} sets 'concurrency_timeout' without 'concurrency'.",
                    "Add 'concurrency': N, or remove 'concurrency_timeout'.",
                )
            )
        problem = _int_in(
            raw["concurrency_timeout"],
            1,
            MAX_CONCURRENCY_TIMEOUT,
            where,
            "concurrency_timeout",
            115,
            "Seconds after which a slot held by a dead worker expires: longer than the slowest "
            "request of the view (default 60).",
        )
        if problem is not None:
            problems.append(problem)
        else:
            out["concurrency_timeout"] = raw["concurrency_timeout"]


def build_capabilities(
    raw: Mapping[str, Any], where: str, problems: list[Problem]
) -> dict[str, Any]:
    """Validate the capability fields of one policy dict; return them as ``Policy`` arguments
    (only those given). Problems are appended to ``problems``."""
    out: dict[str, Any] = {}
    if raw.get("exempt_ips") is not None:
        out["exempt_ips"] = _exempt_ips(raw["exempt_ips"], where, problems)
    if raw.get("skip_if") is not None:
        out["skip_if"] = _callable(raw["skip_if"], where, "skip_if", 111, problems)
    if raw.get("count_when") is not None:
        out["count_when"] = _count_when(raw["count_when"], where, problems)

    _concurrency(raw, where, problems, out)
    return out


__all__ = [
    "CAPABILITY_FIELDS",
    "DEFAULT_CONCURRENCY_TIMEOUT",
    "CountFunc",
    "CountWhen",
    "SkipFunc",
    "build_capabilities",
    "no_rate",
]
