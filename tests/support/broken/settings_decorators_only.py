"""The broken project without RateLimitMiddleware: only the decorators (docs/checks.md)."""

from tests.support.broken.settings import *  # noqa: F403
from tests.support.broken.settings import MIDDLEWARE

MIDDLEWARE = [m for m in MIDDLEWARE if not m.endswith("RateLimitMiddleware")]
