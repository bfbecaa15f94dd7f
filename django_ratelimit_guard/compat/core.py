"""``is_ratelimited`` and ``get_usage``, with django-ratelimit 4.x's arguments and answers.

Keys, rates and group names are derived exactly as django-ratelimit derives them; counting is in
``counting.py`` (the atomic engine on the guard's django-redis cache, the Django cache elsewhere).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from django_ratelimit_guard.compat import ALL, UNSAFE, counting
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.keys import parse_ip

__all__ = ["get_usage", "is_ratelimited"]

logger = logging.getLogger("django_ratelimit_guard.compat")

_PERIODS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
# Matched whole: django-ratelimit matches a prefix, so "5/minute" silently meant 5/m and "5/M"
# meant 5/s. Here those are errors.
_RATE_RE = re.compile(r"([0-9]+)/([0-9]*)([smhd])?")
#: Bucket of requests whose IP (from RATELIMIT_IP_META_KEY) does not parse.
UNKNOWN_IP = "unknown-ip"

Usage = dict[str, Any]


def split_rate(rate: object) -> tuple[int, int]:
    """``"5/m"`` → ``(5, 60)``; ``"100/10s"`` and ``"100/10"`` → ``(100, 10)``; tuples pass."""
    if isinstance(rate, tuple):
        if len(rate) != 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in rate
        ):
            raise ImproperlyConfigured(
                f"Ratelimit rate {rate!r}: a tuple must be (count, seconds)."
            )
        return rate[0], rate[1]
    if not isinstance(rate, str):
        raise ImproperlyConfigured(f"Ratelimit rate {rate!r} must be a string such as '5/m'.")
    match = _RATE_RE.fullmatch(rate)
    if match is None:
        raise ImproperlyConfigured(
            f"Ratelimit rate {rate!r} is not 'count/period' such as '5/m', '100/10s' or '400/10m'."
        )
    count, multi, period = match.groups()
    seconds = _PERIODS[period or "s"] * (int(multi) if multi else 1)
    return int(count), seconds


#: django-ratelimit's own name, for code (and its test suite) that imports it.
_split_rate = split_rate


def _get_ip(request: HttpRequest) -> str:
    ip_meta = getattr(settings, "RATELIMIT_IP_META_KEY", None)
    if not ip_meta:
        ip = request.META["REMOTE_ADDR"]
        if not ip:
            raise ImproperlyConfigured(
                "IP address in REMOTE_ADDR is empty. This can happen when using a reverse proxy "
                "and connecting to the app server with Unix sockets. See RATELIMIT_IP_META_KEY."
            )
    elif callable(ip_meta):
        ip = ip_meta(request)
    elif isinstance(ip_meta, str) and "." in ip_meta:
        ip = import_string(ip_meta)(request)
    elif ip_meta in request.META:
        ip = request.META[ip_meta]
    else:
        raise ImproperlyConfigured(f'Could not get IP address from "{ip_meta}"')
    address = parse_ip(str(ip))
    if address is None:
        # django-ratelimit raises ValueError here (a 500 a client can trigger through a header).
        logs.log(
            logger,
            logging.WARNING,
            "compat:unknown_ip",
            "Unparseable client IP %r (RATELIMIT_IP_META_KEY=%r); counted in the %r bucket.",
            str(ip)[:64],
            ip_meta,
            UNKNOWN_IP,
        )
        return UNKNOWN_IP
    if address.version == 6:
        mask = getattr(settings, "RATELIMIT_IPV6_MASK", 64)
    else:
        mask = getattr(settings, "RATELIMIT_IPV4_MASK", 32)
    return str(ipaddress.ip_network(f"{address}/{mask}", strict=False).network_address)


def user_or_ip(request: HttpRequest) -> str:
    if request.user.is_authenticated:
        return str(request.user.pk)
    return _get_ip(request)


def get_header(request: HttpRequest, header: str) -> str:
    return str(request.META.get("HTTP_" + header.replace("-", "_").upper(), ""))


_SIMPLE_KEYS: dict[str, Callable[[HttpRequest], str]] = {
    "ip": _get_ip,
    "user": lambda r: str(r.user.pk),
    "user_or_ip": user_or_ip,
}
_ACCESSOR_KEYS: dict[str, Callable[[HttpRequest, str], str]] = {
    "get": lambda r, k: r.GET.get(k, ""),
    "post": lambda r, k: r.POST.get(k, ""),
    "header": get_header,
}


def check_key(key: object) -> None:
    """Validate a key's form without a request (the decorator calls this at import time)."""
    if not key:
        raise ImproperlyConfigured("Ratelimit key must be specified")
    if callable(key) or key in _SIMPLE_KEYS:
        return
    if not isinstance(key, str):
        raise ImproperlyConfigured(f"Could not understand ratelimit key: {key!r}")
    if ":" in key:
        if key.split(":", 1)[0] not in _ACCESSOR_KEYS:
            raise ImproperlyConfigured(f"Unknown ratelimit key: {key}")
    elif "." not in key:
        raise ImproperlyConfigured(f"Could not understand ratelimit key: {key}")


def _key_value(key: Any, group: str, request: HttpRequest) -> str:
    check_key(key)
    if callable(key):
        return str(key(group, request))
    if key in _SIMPLE_KEYS:
        return _SIMPLE_KEYS[key](request)
    if ":" in key:
        accessor, name = key.split(":", 1)
        return _ACCESSOR_KEYS[accessor](request, name)
    return str(import_string(key)(group, request))


def _method_match(request: HttpRequest, method: Any = ALL) -> bool:
    if method == ALL:
        return True
    if not isinstance(method, (list, tuple)):
        method = [method]
    return request.method in [m.upper() for m in method]


def group_name(fn: Any) -> str:
    """``<module>.<Class>.<qualname>``: django-ratelimit's group of a decorated view."""
    parts = []
    if isinstance(fn, functools.partial):
        fn = fn.func
    if getattr(fn, "__name__", None) == "bound_func":  # Django < 2.1's method_decorator
        fn = fn.__closure__[0].cell_contents
    if hasattr(fn, "__module__"):
        parts.append(fn.__module__)
    if hasattr(fn, "__self__"):
        parts.append(fn.__self__.__class__.__name__)
    parts.append(fn.__qualname__)
    return ".".join(parts)


def is_ratelimited(
    request: HttpRequest,
    group: str | None = None,
    fn: Any = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    increment: bool = False,
) -> bool:
    usage = get_usage(request, group, fn, key, rate, method, increment)
    if usage is None:
        return False
    return bool(usage["should_limit"])


def get_usage(
    request: HttpRequest,
    group: str | None = None,
    fn: Any = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    increment: bool = False,
) -> Usage | None:
    """``{"count", "limit", "should_limit", "time_left"}``, or None when no limit applies."""
    if group is None and fn is None:
        raise ImproperlyConfigured("get_usage must be called with either `group` or `fn` arguments")
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    if not _method_match(request, method):
        return None
    if group is None:
        group = group_name(fn)
    if callable(rate):
        rate = rate(group, request)
    elif isinstance(rate, str) and "." in rate:
        rate = import_string(rate)(group, request)
    if rate is None or rate == "":
        return None
    limit, period = split_rate(rate)
    if period <= 0:
        raise ImproperlyConfigured("Ratelimit period must be greater than 0")
    value = _key_value(key, group, request)
    return counting.usage(request, group, limit, period, value, method, increment)


is_ratelimited.ALL = ALL  # type: ignore[attr-defined]
is_ratelimited.UNSAFE = UNSAFE  # type: ignore[attr-defined]
get_usage.ALL = ALL  # type: ignore[attr-defined]
get_usage.UNSAFE = UNSAFE  # type: ignore[attr-defined]
