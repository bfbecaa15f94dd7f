"""What the limiter answers: one :class:`Decision` per policy, gathered in a :class:`Result`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Literal

#: ``override``: decided in process by a runtime override's ``block`` (issue #15, no store call).
Source = Literal["redis", "memory", "open", "closed", "override"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One policy's decision on one request. Times are seconds (millisecond precision)."""

    policy: str
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float
    source: Source
    window: int = 0  # seconds, for RateLimit-Policy's w
    block: bool = True  # False: shadow mode, never rejects

    @property
    def rejected(self) -> bool:
        """Whether this decision rejects the request (shadow-mode decisions never do)."""
        return not self.allowed and self.block


def _fast_constructor() -> Callable[..., Decision]:
    """``Decision(...)`` with every field given positionally, at half the cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` looked up
    by name; this sets the slots through their descriptors, bound once. The decision path builds
    one Decision per policy per request (docs/performance.md); a test holds the two alike.
    """
    new = object.__new__
    names = [f.name for f in fields(Decision)]
    setters = [getattr(Decision, name).__set__ for name in names]
    assert len(setters) == 9, "update new_decision with Decision's fields"
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = setters

    def new_decision(
        policy: str,
        allowed: bool,
        limit: int,
        remaining: int,
        reset_after: float,
        retry_after: float,
        source: Source,
        window: int,
        block: bool,
    ) -> Decision:
        d = new(Decision)
        s0(d, policy)
        s1(d, allowed)
        s2(d, limit)
        s3(d, remaining)
        s4(d, reset_after)
        s5(d, retry_after)
        s6(d, source)
        s7(d, window)
        s8(d, block)
        return d

    return new_decision


new_decision = _fast_constructor()


def most_restrictive(decisions: Iterable[Decision]) -> Decision | None:
    """The rejected decision with the longest wait, else the one with the fewest remaining."""
    best: Decision | None = None
    for d in decisions:
        if best is None:
            best = d
        elif d.rejected != best.rejected:
            if d.rejected:
                best = d
        elif d.rejected:
            if d.retry_after > best.retry_after:
                best = d
        elif d.remaining < best.remaining:
            best = d
    return best


class Result:
    """The result of ``check()``: every decision, read as its most restrictive one."""

    __slots__ = ("_rejected", "_worst", "decisions")

    def __init__(self, decisions: Iterable[Decision] = ()) -> None:
        self.decisions: tuple[Decision, ...] = tuple(decisions)
        worst = self.decisions[0] if len(self.decisions) == 1 else most_restrictive(self.decisions)
        self._worst = worst
        # The most restrictive decision is a rejecting one whenever any decision rejects.
        self._rejected = worst is not None and not worst.allowed and worst.block

    def __repr__(self) -> str:
        return f"<Result allowed={self.allowed} decisions={list(self.decisions)!r}>"

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.decisions)

    def __len__(self) -> int:
        return len(self.decisions)

    def __add__(self, other: Result) -> Result:
        return Result(self.decisions + other.decisions)

    def __getitem__(self, policy: str) -> Decision:
        """The decision of the named policy."""
        for decision in self.decisions:
            if decision.policy == policy:
                return decision
        raise KeyError(policy)

    @property
    def allowed(self) -> bool:
        """True unless a blocking policy rejected the request (shadow mode never rejects)."""
        return not self._rejected

    @property
    def rejected(self) -> bool:
        return self._rejected

    @property
    def decision(self) -> Decision | None:
        """The most restrictive decision, or None when no policy decided the request."""
        return self._worst

    @property
    def policy(self) -> str | None:
        return self._worst.policy if self._worst else None

    @property
    def limit(self) -> int | None:
        return self._worst.limit if self._worst else None

    @property
    def remaining(self) -> int | None:
        return self._worst.remaining if self._worst else None

    @property
    def reset_after(self) -> float | None:
        return self._worst.reset_after if self._worst else None

    @property
    def retry_after(self) -> float | None:
        return self._worst.retry_after if self._worst else None

    @property
    def source(self) -> Source | None:
        return self._worst.source if self._worst else None
