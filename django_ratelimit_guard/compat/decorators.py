"""``@ratelimit``: django-ratelimit's decorator, for sync and async views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.utils.module_loading import import_string

from django_ratelimit_guard.compat import ALL, UNSAFE
from django_ratelimit_guard.compat.core import check_key, is_ratelimited, split_rate
from django_ratelimit_guard.compat.exceptions import Ratelimited

__all__ = ["ratelimit"]


def _exception() -> BaseException:
    cls = getattr(settings, "RATELIMIT_EXCEPTION_CLASS", Ratelimited)
    return (import_string(cls) if isinstance(cls, str) else cls)()


def _validate(key: Any, rate: Any) -> None:
    """Fail at import time for what would fail on every request: a malformed static rate or key."""
    dotted = isinstance(rate, str) and "." in rate and "/" not in rate
    if rate is None or callable(rate) or dotted:
        return
    split_rate(rate)
    check_key(key)


def ratelimit(
    group: str | None = None,
    key: Any = None,
    rate: Any = None,
    method: Any = ALL,
    block: bool = True,
) -> Callable[[Any], Any]:
    _validate(key, rate)

    def decorator(fn: Any) -> Any:
        def limited(request: Any) -> bool:
            old_limited = getattr(request, "limited", False)
            ratelimited = is_ratelimited(
                request=request,
                group=group,
                fn=fn,
                key=key,
                rate=rate,
                method=method,
                increment=True,
            )
            request.limited = ratelimited or old_limited
            return ratelimited

        if iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def _async_wrapped(request: Any, *args: Any, **kw: Any) -> Any:
                if await sync_to_async(limited)(request) and block:
                    raise _exception()
                return await fn(request, *args, **kw)

            return _async_wrapped

        @functools.wraps(fn)
        def _wrapped(request: Any, *args: Any, **kw: Any) -> Any:
            if limited(request) and block:
                raise _exception()
            return fn(request, *args, **kw)

        return _wrapped

    return decorator


ratelimit.ALL = ALL  # type: ignore[attr-defined]
ratelimit.UNSAFE = UNSAFE  # type: ignore[attr-defined]
