"""The contract every counter store meets; one test suite runs it against each store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from django_ratelimit_guard.algorithms import Hit, Verdict


class Store(Protocol):
    """Decides all hits of one request atomically: all counted, or none if any blocking one fails."""

    #: The breaker scope this store answers for (its cache alias).
    scope: str

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        """Decide ``hits``; with ``count=False`` only peek. ``now_ms`` overrides the clock (tests)."""
        ...

    async def ahit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]: ...

    def reset(self, keys: Sequence[str]) -> None:
        """Forget the counters stored under ``keys``."""
        ...
