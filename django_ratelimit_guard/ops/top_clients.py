"""The most-limited clients of the last window, tracked cheaply for the status page.

Allowed requests cost nothing here. A decision over its limit adds one to a small per-process
tally; at most once per ``FLUSH_SECONDS`` per process, and only after a decision that Redis itself
answered (never while the store is failing), the tally goes to Redis in one EVALSHA of
``stores/lua/top_clients.lua``, a guarded call like every other (``engine/guarded.py``). In Redis
each time bucket is a sorted set bounded by the Space-Saving algorithm: a newcomer replaces the
smallest member and inherits its count, so the set never grows past ``CAPACITY`` and a heavy hitter
always makes it in. Members are ``policy``, the keyed hash of the client's key value (the same
digest its counters use, so the page can reset it) and a *safe label* — never the raw value.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core.decisions import Result
from django_ratelimit_guard.core.keys import UNKNOWN_IP, hash_key_value
from django_ratelimit_guard.core.policies import Policy
from django_ratelimit_guard.engine import decide, guarded, registry
from django_ratelimit_guard.stores import scripts

logger = logging.getLogger("django_ratelimit_guard")

BUCKET_SECONDS = 600
CAPACITY = 100
FLUSH_SECONDS = 1.0
MAX_PENDING = 1000
SEP = "\t"  # policy names are printable ASCII without tabs; labels are built here without them


@dataclass(frozen=True)
class TopClient:
    policy: str
    digest: str
    label: str
    count: int


def _ip_label(value: str) -> str:
    if value == UNKNOWN_IP:
        return value
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return ""
    # Coarse enough not to identify a person, fine enough to recognise a network.
    prefix = 24 if network.version == 4 else 48
    return str(network.supernet(new_prefix=prefix)) if network.prefixlen > prefix else str(network)


def safe_label(policy: Policy, key_value: str) -> str:
    """The page's view of a key value; a key callable may offer ``func.safe_label(value)``."""
    spec = policy.key.spec
    custom = getattr(policy.key.func, "safe_label", None)
    if callable(custom):
        label = str(custom(key_value))
    elif spec == "ip":
        label = _ip_label(key_value)
    elif spec == "user":
        label = f"user #{key_value}"
    elif spec == "user_or_ip":
        kind, _, rest = key_value.partition(":")
        label = f"user #{rest}" if kind == "user" else _ip_label(rest)
    elif spec == "api_key":
        label = f"key {key_value}"
    else:  # headers, params and callables may carry secrets: the hash only
        label = ""
    return "".join(c for c in label if c.isprintable() and c != SEP)[:80]


def bucket_key(prefix: str, bucket: int) -> str:
    return f"{prefix}:top:{bucket}"


#: Members built per (policy, key value), so that a flood from one blocked client (answered from
#: memory, ``engine/local.py``) does not hash and label its address on every request. Bounded:
#: emptied when full (key values come from clients).
MEMBER_CACHE = 4096


class Tracker:
    """A ``bus.decided`` subscriber; it does work only for decisions over their limit."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.pending: dict[str, int] = {}
        self.last_flush = float("-inf")
        self.members: dict[tuple[str, str], str] = {}
        on_reload(self.members.clear)  # a new key secret: new digests

    def __call__(self, request: HttpRequest, result: Result) -> None:
        for d in result.decisions:  # allowed requests return here, without building a list
            if not d.allowed:
                break
        else:
            return
        over = [d for d in result.decisions if not d.allowed]
        try:
            self._tally(request, over)
        except Exception:  # a key callable's surprise must never break the request
            logger.debug("Could not tally a limited client.", exc_info=True)
            return
        if all(d.source == "redis" for d in result.decisions):
            now = self.clock()
            if now - self.last_flush >= FLUSH_SECONDS:
                self.last_flush = now
                self.flush(now)

    def _tally(self, request: HttpRequest, over: Sequence[Any]) -> None:
        members = self.members
        for decision in over:
            policy = registry.get_policy(decision.policy)
            value = policy.key.func(request)
            if value is None:
                continue
            text = str(value)
            member = members.get((policy.name, text))
            if member is None:
                digest = hash_key_value(text, guard_settings().key_secret)
                member = SEP.join((policy.name, digest, safe_label(policy, text)))
                if len(text) <= 256:
                    if len(members) >= MEMBER_CACHE:
                        members.clear()
                    members[(policy.name, text)] = member
            if member in self.pending or len(self.pending) < MAX_PENDING:
                self.pending[member] = self.pending.get(member, 0) + 1

    def flush(self, now: float | None = None) -> None:
        """Send the tally to Redis in one guarded call; if Redis can't take it, it is dropped (it
        is only statistics)."""
        if not self.pending:
            return
        # Swap first: increments racing with the flush land in the new dict.
        batch, self.pending = self.pending, {}
        now = self.clock() if now is None else now
        args: list[Any] = [BUCKET_SECONDS * 2, CAPACITY]
        for member, count in batch.items():
            args += (member, count)
        key = bucket_key(guard_settings().key_prefix, int(now // BUCKET_SECONDS))

        def send(store: Any) -> Any:
            client = store.client
            evalsha = [scripts.TOP_CLIENTS.sha, 1, key, *args]
            return scripts.run(
                scripts.TOP_CLIENTS, lambda a: client.evalsha(*a), evalsha, client.script_load
            )

        if decide.redis_call(send) is guarded.UNAVAILABLE:
            logger.debug("Could not record %d limited clients.", len(batch))


def read_commands(pipe: Any, prefix: str, now: float, shown: int = 20) -> None:
    """Queue the two reads (this bucket and the previous one) on a pipeline."""
    bucket = int(now // BUCKET_SECONDS)
    for b in (bucket, bucket - 1):
        pipe.zrevrange(bucket_key(prefix, b), 0, shown - 1, withscores=True)


def parse(
    replies: Sequence[Sequence[tuple[bytes | str, float]]], shown: int = 20
) -> list[TopClient]:
    totals: dict[str, float] = {}
    for reply in replies:
        for member, score in reply:
            text = member.decode("utf-8", "replace") if isinstance(member, bytes) else member
            totals[text] = totals.get(text, 0) + score
    clients = []
    for member, score in sorted(totals.items(), key=lambda kv: -kv[1])[:shown]:
        parts = member.split(SEP)
        if len(parts) == 3:
            clients.append(TopClient(parts[0], parts[1], parts[2], int(score)))
    return clients


tracker = Tracker()
