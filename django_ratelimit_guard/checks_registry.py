"""The problems configuration validation can report, as plain data.

Validation (``conf.py``) collects :class:`Problem` objects; ``checks.py`` turns them into
system-check messages and ``apps.py`` into one ``ImproperlyConfigured``. Every id is listed in
``docs/checks.md`` and never reused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    id: str  # "ratelimit_guard.E002"
    msg: str
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return ".E" in self.id


def error(number: int, msg: str, hint: str = "") -> Problem:
    return Problem(f"ratelimit_guard.E{number:03d}", msg, hint)


def warning(number: int, msg: str, hint: str = "") -> Problem:
    return Problem(f"ratelimit_guard.W{number:03d}", msg, hint)
