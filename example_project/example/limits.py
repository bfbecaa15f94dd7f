"""Helpers the example's policies name (RATELIMIT_GUARD in settings.py)."""


def is_health_check(request):
    """skip_if of the "api" policy: the load balancer's health checker is never limited."""
    return request.headers.get("User-Agent", "").startswith("HealthChecker/")
