"""The broken project without RateLimitMiddleware: only the decorators (docs/checks.md)."""

from tests.edge.broken.settings import *  # noqa: F403
from tests.edge.broken.settings import MIDDLEWARE

MIDDLEWARE = [m for m in MIDDLEWARE if not m.endswith("RateLimitMiddleware")]
