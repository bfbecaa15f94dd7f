"""Counting outcomes: ``count_when`` (issue #15).

A policy with ``count_when`` is checked without counting before the view (``count=False``: a
client already over the limit gets its 429) and counted after the response only when
``count_when`` matches it: its status is in the list, or the predicate
``fn(request, response)`` returns true. ``edge/staged.py`` runs the two halves around the view.

A predicate that raises is logged (``callbacks.py``: not one line per request) and the
response **counts**: an outcome that can't be classified is treated as a failure, the safe side
for a limit on failed logins.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse

from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.engine import callbacks


def counted(
    policies: Sequence[Policy], request: HttpRequest, response: HttpResponse
) -> list[Policy]:
    """The ``count_when`` policies among ``policies`` that this response counts for."""
    out = []
    for policy in policies:
        when = policy.count_when
        if when is None:
            continue
        if isinstance(when, frozenset):
            if response.status_code in when:
                out.append(policy)
            continue
        try:
            matched = bool(when(request, response))
        except Exception as exc:
            callbacks.report_failure(policy.name, "count_when", exc, "the response was counted")
            matched = True
        if matched:
            out.append(policy)
    return out


__all__ = ["counted"]
