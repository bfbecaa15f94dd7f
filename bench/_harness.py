"""Shared bench plumbing: an own redis-server, Django settings, timing with medians."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.redis_servers import RedisServer  # noqa: E402

FLOOR_LUA = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
"""
#: The floor of a three-policy decision: one script over three keys, each counted as the floor
#: counts its one.
FLOOR3_LUA = """
for i = 1, #KEYS do
  local c = redis.call('INCR', KEYS[i])
  if c == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return 1
"""


def versions() -> str:
    """The versions a figure depends on, for the first line of every table."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "none"

    return (
        f"python {platform.python_version()}, Django {of('django')}, redis-py {of('redis')}, "
        f"hiredis {of('hiredis')}, prometheus-client {of('prometheus-client')}"
    )


def configure_django(
    redis_url: str, policies: dict[str, dict[str, object]], cache: dict[str, object] | None = None
) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_ratelimit_guard",
        ],
        DATABASES={},
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "ratelimit": cache
            or {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": redis_url,
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
            },
        },
        # No database here: the fleet control channel (which reads commands from it) stays off.
        RATELIMIT_GUARD={
            "CACHE_ALIAS": "ratelimit",
            "POLICIES": policies,
            "CONTROL": {"POLL_SECONDS": 0},
        },
    )
    django.setup()


def per_op_us(func: Callable[[], object], n: int, reps: int) -> list[float]:
    """Microseconds per call, one figure per repetition (after a warm-up)."""
    for _ in range(min(n, 200)):
        func()
    figures = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(n):
            func()
        figures.append((time.perf_counter() - start) / n * 1e6)
    return figures


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + " |")


__all__ = [
    "FLOOR3_LUA",
    "FLOOR_LUA",
    "RedisServer",
    "configure_django",
    "median",
    "per_op_us",
    "print_table",
]
