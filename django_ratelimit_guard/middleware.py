"""The documented import paths of the two middleware classes::

    MIDDLEWARE = [
        ...,
        "django_ratelimit_guard.middleware.SignedRequestMiddleware",  # signing/middleware.py
        "django_ratelimit_guard.middleware.RateLimitMiddleware",      # edge/middleware.py
    ]

Nothing inside the package imports this module.
"""

from django_ratelimit_guard.edge.middleware import RateLimitMiddleware
from django_ratelimit_guard.signing.middleware import SignedRequestMiddleware

__all__ = ["RateLimitMiddleware", "SignedRequestMiddleware"]
