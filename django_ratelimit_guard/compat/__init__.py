"""A drop-in for django-ratelimit 4.x: swap ``django_ratelimit`` for
``django_ratelimit_guard.compat`` in imports and settings and nothing else changes.

Same names (``ratelimit``, ``is_ratelimited``, ``get_usage``, ``Ratelimited``, ``ALL``,
``UNSAFE``), same arguments, the same ``RATELIMIT_*`` settings and the same semantics — including
403 via ``PermissionDenied``, counters in the configured Django cache for non-Redis caches and
``RATELIMIT_FAIL_OPEN``. On the django-redis cache that is also ``RATELIMIT_GUARD['CACHE_ALIAS']``
it counts through the atomic Lua engine instead of ``cache.add``/``cache.incr``. The deliberate
differences are listed in docs/migrating.md.
"""

VERSION = (4, 1, 0)  # the django-ratelimit version whose behaviour this package reproduces
__version__ = ".".join(map(str, VERSION))

ALL = (None,)  # Sentinel value for all HTTP methods.
UNSAFE = ["DELETE", "PATCH", "POST", "PUT"]
