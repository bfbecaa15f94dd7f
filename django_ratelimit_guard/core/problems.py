"""The problems configuration validation can report, as plain data.

Validation (``conf``, ``core/policies.py``) collects :class:`Problem` objects; the checks turn
them into system-check messages (:func:`to_message`) and ``apps.py`` into one
``ImproperlyConfigured``. Every id is listed in ``docs/checks.md`` and never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import checks


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


def to_message(problem: Problem, obj: object = None) -> checks.CheckMessage:
    """The problem as a system-check message (``manage.py check``)."""
    kind = checks.Error if problem.is_error else checks.Warning
    return kind(problem.msg, hint=problem.hint or None, id=problem.id, obj=obj)


__all__ = ["Problem", "error", "to_message", "warning"]
