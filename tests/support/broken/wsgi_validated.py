"""wsgi.py of a project that uses only the decorator, as docs/checks.md recommends."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.broken.settings_decorators_only")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from django_ratelimit_guard import validate_views  # noqa: E402

validate_views()  # every @rate_limit problem, at startup
