import sys

from django.apps import AppConfig
from django.conf import settings


class ExampleConfig(AppConfig):
    name = "example"

    def ready(self) -> None:
        if "runserver" in sys.argv or "gunicorn" in sys.argv[0]:
            where = (
                settings.REDIS_URL
                or "the embedded in-process fakeredis (set REDIS_URL for a real Redis)"
            )
            print(f"django-ratelimit-guard example: rate limits count in {where}", file=sys.stderr)
