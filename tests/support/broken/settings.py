"""A project whose views carry three @rate_limit problems in two modules: servers must refuse to
start, listing all three (issue #13, item 1)."""

from tests.support.settings import *  # noqa: F403

ROOT_URLCONF = "tests.support.broken.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
