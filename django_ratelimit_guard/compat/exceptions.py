"""``Ratelimited``: django-ratelimit's exception, a ``PermissionDenied``, so Django answers 403."""

from django.core.exceptions import PermissionDenied


class Ratelimited(PermissionDenied):
    """Raised by ``@ratelimit(block=True)`` when the request is over its limit."""
