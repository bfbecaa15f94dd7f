from django_ratelimit_guard.middleware import RateLimitMiddleware


class TenantRateLimitMiddleware(RateLimitMiddleware):
    """A project's own subclass (tests of the W091 check)."""
