"""The limiters compared in ``compare.py``, each behind the same two calls.

Every adapter exposes ``one(request) -> bool`` (one policy) and ``three(request) -> bool`` (three
policies on one request), and counts in the same redis-server. Each peer is used the way its own
documentation shows, with the same 0.1 s socket timeouts where its API takes them:

* django-ratelimit: ``is_ratelimited(..., increment=True)`` on a django-redis cache, one call per
  group (it has no multi-limit call);
* DRF: ``AnonRateThrottle`` subclasses on the django-redis cache, instantiated per request as
  ``APIView.get_throttles()`` does;
* limits: ``RedisStorage`` with each strategy's ``hit()``, one call per limit.

Imports of the peers happen inside the builders, after Django is configured: nothing is installed
or imported at module import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SOCKET_TIMEOUT = 0.1
#: The rates of the three-policy rows (per client), generous enough never to reject in a bench.
RATES = ("1000/h", "1000/m", "1000/d")
LIMITS_RATES = ("1000/hour", "1000/minute", "1000/day")
ALGORITHMS = ("sliding_window", "fixed_window", "token_bucket")

Check = Callable[[Any], bool]


@dataclass
class Peer:
    name: str
    one: Check
    three: Check
    #: What the outage table calls; may return a richer object than ``one`` (our Result).
    outage: Callable[[Any], object] | None = None


def django_settings(redis_url: str, race_limit: int) -> dict[str, Any]:
    """Settings for one process that can run every peer on ``redis_url``."""
    policies: dict[str, dict[str, object]] = {
        f"p{i}": {"rate": rate, "key": "ip", "algorithm": alg}
        for i, (rate, alg) in enumerate(zip(RATES, ALGORITHMS, strict=True))
    }
    policies["race"] = {"rate": f"{race_limit}/h", "key": "ip"}
    cache = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": SOCKET_TIMEOUT, "SOCKET_TIMEOUT": SOCKET_TIMEOUT},
    }
    return {
        "SECRET_KEY": "bench",
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "django_ratelimit",
            "django_ratelimit_guard",
        ],
        "DATABASES": {},
        "CACHES": {"default": cache, "ratelimit": cache},
        "RATELIMIT_USE_CACHE": "ratelimit",
        "RATELIMIT_GUARD": {"CACHE_ALIAS": "ratelimit", "POLICIES": policies},
        "REST_FRAMEWORK": {"DEFAULT_THROTTLE_RATES": {}},
        "LOGGING_CONFIG": None,
    }


def configure(redis_url: str, race_limit: int = 100) -> None:
    import logging

    import django
    from django.conf import settings

    settings.configure(**django_settings(redis_url, race_limit))
    django.setup()
    # Breaker transitions and fallback warnings are part of what the bench observes, not output.
    logging.getLogger("django_ratelimit_guard").setLevel(logging.CRITICAL)


def guard_peer() -> Peer:
    from django_ratelimit_guard import check

    return Peer(
        "django-ratelimit-guard check()",
        lambda r: check(r, "p0").allowed,
        lambda r: check(r, "p0", "p1", "p2").allowed,
        lambda r: check(r, "p0"),
    )


def django_ratelimit_peer() -> Peer:
    from django_ratelimit.core import is_ratelimited

    def one(request: Any) -> bool:
        return not is_ratelimited(request, group="g0", key="ip", rate=RATES[0], increment=True)

    def three(request: Any) -> bool:
        limited = False
        for i, rate in enumerate(RATES):
            limited |= is_ratelimited(request, group=f"g{i}", key="ip", rate=rate, increment=True)
        return not limited

    return Peer("django-ratelimit is_ratelimited", one, three)


def drf_throttles(rates: tuple[str, ...], prefix: str = "t") -> list[type]:
    from django.core.cache import caches
    from rest_framework.throttling import AnonRateThrottle

    classes = []
    for i, rate in enumerate(rates):
        attrs = {"cache": caches["ratelimit"], "scope": f"{prefix}{i}", "rate": rate}
        classes.append(type(f"Throttle{i}", (AnonRateThrottle,), attrs))
    return classes


def drf_peer() -> Peer:
    classes = drf_throttles(RATES)

    def one(request: Any) -> bool:
        return bool(classes[0]().allow_request(request, None))

    def three(request: Any) -> bool:
        # APIView.check_throttles asks every throttle, even after one refused.
        return all([cls().allow_request(request, None) for cls in classes])  # noqa: C419

    return Peer("DRF AnonRateThrottle", one, three)


def limits_storage(redis_url: str, strategy: str) -> Any:
    from limits.storage import RedisStorage

    # Strategies keep different data types under the same key names: one prefix each.
    return RedisStorage(
        redis_url,
        key_prefix=f"LIMITS-{strategy}",
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
    )


LIMITS_STRATEGIES = {
    "fixed": "FixedWindowRateLimiter",
    "moving": "MovingWindowRateLimiter",
    "sliding": "SlidingWindowCounterRateLimiter",
}


def limits_peer(redis_url: str, strategy: str) -> Peer:
    from limits import parse, strategies

    limiter = getattr(strategies, LIMITS_STRATEGIES[strategy])(limits_storage(redis_url, strategy))
    items = [parse(text) for text in LIMITS_RATES]

    def one(request: Any) -> bool:
        return bool(limiter.hit(items[0], request.META["REMOTE_ADDR"]))

    def three(request: Any) -> bool:
        ip = request.META["REMOTE_ADDR"]
        return all([limiter.hit(item, ip) for item in items])  # noqa: C419 (every limit counts)

    return Peer(f"limits {strategy} window", one, three)


def all_peers(redis_url: str) -> list[Peer]:
    return [
        guard_peer(),
        django_ratelimit_peer(),
        drf_peer(),
        *(limits_peer(redis_url, s) for s in LIMITS_STRATEGIES),
    ]


def race_check(name: str, redis_url: str, limit: int) -> Check:
    """A one-policy check with ``limit`` per hour, for the over-admission race."""
    if name.startswith("django-ratelimit-guard"):
        from django_ratelimit_guard import check

        return lambda r: check(r, "race").allowed
    if name.startswith("django-ratelimit"):
        from django_ratelimit.core import is_ratelimited

        return lambda r: (
            not is_ratelimited(r, group="race", key="ip", rate=f"{limit}/h", increment=True)
        )
    if name.startswith("DRF"):
        (cls,) = drf_throttles((f"{limit}/h",), prefix="race")
        return lambda r: bool(cls().allow_request(r, None))
    from limits import parse, strategies

    strategy = name.split()[1]
    limiter = getattr(strategies, LIMITS_STRATEGIES[strategy])(limits_storage(redis_url, strategy))
    item = parse(f"{limit}/hour")
    return lambda r: bool(limiter.hit(item, "race", r.META["REMOTE_ADDR"]))


def make_requests(count: int, prefix: str = "") -> list[Any]:
    """``count`` anonymous GET requests from distinct client addresses (``prefix`` + a number,
    if given)."""
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    factory = RequestFactory()
    requests = []
    for i in range(count):
        address = f"{prefix}{i + 1}" if prefix else f"198.51.{100 + i // 250}.{i % 250 + 1}"
        request = factory.get("/", REMOTE_ADDR=address)
        request.user = AnonymousUser()
        requests.append(request)
    return requests
