"""Sphinx configuration: the docs site, built with warnings as errors by scripts/docs.sh."""

from __future__ import annotations

import logging
import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.support.settings")

import django_ratelimit_guard

project = "django-ratelimit-guard"
author = "the django-ratelimit-guard authors"
copyright = "the django-ratelimit-guard authors"
release = version = django_ratelimit_guard.__version__

extensions = ["myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
root_doc = "index"
exclude_patterns = ["_build"]
# Pages other issues write (resilience, signing, scaling) join the site through toctree globs as
# they land; a glob that matches nothing yet is not an error. (Sphinx 9 emits that warning without
# a type, so suppress_warnings cannot silence it: a logging filter does, for these globs only.)
OPTIONAL_GLOBS = ("'resilience*'", "'signing*'", "'scaling*'", "'performance*'")
html_theme = "alabaster"
html_title = f"django-ratelimit-guard {release}"


class _OptionalPagesFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        optional = any(glob in message for glob in OPTIONAL_GLOBS)
        return not (optional and "didn't match any documents" in message)


def setup(app: object) -> None:
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(_OptionalPagesFilter())
