"""The Redis Cluster store: the hits of one request grouped by shard, one round trip per shard.

Storage keys are ``<prefix>:{<digest>}:<policy>:<alg>``: the digest of the client's key value is the
hash tag, so every policy of one client that keys on the same value lives in one slot, and one
EVALSHA of ``lua/decide.lua`` decides them all — the common case costs one round trip to one node.

Redis Cluster refuses a script whose keys span slots, even on one node, so hits are grouped by
slot (one EVALSHA each) and the slots by node: a node with several slots gets its EVALSHAs
pipelined in one round trip, and distinct nodes are called concurrently (worker threads; the
request's own thread takes the first node). Each node answers or fails on its own, so the guard
gives every node its own breaker scope, ``<alias>/<host:port>``.

All-or-nothing — a request rejected by one blocking policy consumes no budget — holds within one
slot. Across slots (policies keyed on different values, e.g. ``"user"`` and ``"ip"``) the scripts
run independently: a request rejected on one slot may still have been counted on another. The error
is always towards counting more, never towards admitting more than a limit.

``MOVED`` and ``ASK`` (resharding, failover) are followed by redis-py's ``RedisCluster``, which
refreshes its slot map; they never reach the breaker. ``NOSCRIPT`` loads the script on the node
that raised it and retries once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis.exceptions as rexc

from django_ratelimit_guard.core.algorithms import Hit, Verdict
from django_ratelimit_guard.core.exceptions import StoreError
from django_ratelimit_guard.stores import scripts
from django_ratelimit_guard.stores.errors import REDIS_ERRORS, store_error
from django_ratelimit_guard.stores.redis import SyncClientStore, parse_reply, script_args

#: Redirections and transient cluster states that redis-py resolves when the command is re-sent
#: through ``RedisCluster`` (which follows MOVED/ASK and refreshes its slot map).
_REROUTE = (rexc.MovedError, rexc.AskError, rexc.TryAgainError, rexc.NoScriptError)

#: Scope suffix of hits whose slot no node serves (the slot map is incomplete).
UNCOVERED = "uncovered"


@dataclass
class ShardBatch:
    """The hits of one request that one node owns, as groups of indices sharing a slot."""

    scope: str
    node: Any  # redis.cluster.ClusterNode, or None when the slot is uncovered
    groups: list[list[int]] = field(default_factory=list)

    @property
    def indices(self) -> list[int]:
        return [i for group in self.groups for i in group]


@dataclass
class ShardOutcome:
    batch: ShardBatch
    verdicts: dict[int, Verdict] | None  # hit index -> verdict; None when the node failed
    error: StoreError | None
    duration: float


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=min(32, 4 * (os.cpu_count() or 1)), thread_name_prefix="rlg-shard"
                )
    return _executor


class ClusterStore(SyncClientStore):
    """Counts in the Redis Cluster behind a cache alias using ``ClusterClient``."""

    def __init__(self, alias: str, client: Any = None) -> None:
        self.scope = alias  # the alias-wide scope: used when the cluster can't be reached at all
        self.alias = alias
        self._client = client

    def shard_scope(self, node: Any) -> str:
        return f"{self.alias}/{node.name if node is not None else UNCOVERED}"

    # -- routing --------------------------------------------------------------------------------

    def route(self, hits: Sequence[Hit]) -> list[ShardBatch]:
        """Group hits by slot, then slots by the primary that serves them (no I/O)."""
        client = self.client
        slots: dict[int, list[int]] = {}
        for i, hit in enumerate(hits):
            slots.setdefault(client.keyslot(hit.key), []).append(i)
        batches: dict[str, ShardBatch] = {}
        for slot, indices in slots.items():
            try:
                node = client.nodes_manager.get_node_from_slot(slot)
            except rexc.SlotNotCoveredError:
                node = None
            scope = self.shard_scope(node)
            batch = batches.get(scope)
            if batch is None:
                batch = batches[scope] = ShardBatch(scope, node)
            batch.groups.append(indices)
        return list(batches.values())

    # -- I/O ------------------------------------------------------------------------------------

    def run(
        self,
        hits: Sequence[Hit],
        batches: Sequence[ShardBatch],
        *,
        count: bool = True,
        now_ms: int | None = None,
    ) -> list[ShardOutcome]:
        """Call every batch's node, concurrently; each outcome carries verdicts or its error."""
        if not batches:
            return []
        futures: list[Future[ShardOutcome]] = [
            _pool().submit(self._run_batch, hits, batch, count, now_ms) for batch in batches[1:]
        ]
        first = self._run_batch(hits, batches[0], count, now_ms)
        return [first, *(future.result() for future in futures)]

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        """The Store protocol: every hit decided, or the first shard's error raised."""
        if not hits:
            return []
        out: list[Verdict | None] = [None] * len(hits)
        for outcome in self.run(hits, self.route(hits), count=count, now_ms=now_ms):
            if outcome.error is not None:
                raise outcome.error
            assert outcome.verdicts is not None
            for i, verdict in outcome.verdicts.items():
                out[i] = verdict
        return [v for v in out if v is not None]

    def _run_batch(
        self, hits: Sequence[Hit], batch: ShardBatch, count: bool, now_ms: int | None
    ) -> ShardOutcome:
        started = time.monotonic()
        try:
            if batch.node is None:
                raise rexc.ClusterDownError(
                    f"no node serves the slot of {hits[batch.groups[0][0]].key!r}"
                )
            if len(batch.groups) == 1:
                replies = [self._evalsha(hits, batch.groups[0], count, now_ms)]
            else:
                replies = self._pipelined(hits, batch, count, now_ms)
        except REDIS_ERRORS as exc:
            return ShardOutcome(
                batch, None, store_error(batch.scope, exc), time.monotonic() - started
            )
        verdicts: dict[int, Verdict] = {}
        for group, reply in zip(batch.groups, replies, strict=True):
            verdicts.update(zip(group, parse_reply(reply, len(group)), strict=True))
        return ShardOutcome(batch, verdicts, None, time.monotonic() - started)

    def _evalsha(
        self, hits: Sequence[Hit], group: list[int], count: bool, now_ms: int | None
    ) -> Any:
        """One slot's EVALSHA through RedisCluster (which follows MOVED/ASK); NOSCRIPT reloads."""
        chosen = [hits[i] for i in group]
        args = script_args(chosen, count, now_ms)
        client = self.client

        def load(lua: str) -> Any:
            # This node restarted or was promoted without the script: load it there only (a
            # SCRIPT LOAD to every primary would fail while another shard is down).
            node = client.get_node_from_key(chosen[0].key)
            return client.execute_command("SCRIPT LOAD", lua, target_nodes=node)

        return scripts.run(
            scripts.DECIDE,
            lambda a: client.evalsha(*a),
            [scripts.DECIDE.sha, len(chosen), *args],
            load,
        )

    def _pipelined(
        self, hits: Sequence[Hit], batch: ShardBatch, count: bool, now_ms: int | None
    ) -> list[Any]:
        """Several slots on one node: their EVALSHAs in one round trip to that node."""
        node_client = self.client.get_redis_connection(batch.node)
        pipe = node_client.pipeline(transaction=False)
        for group in batch.groups:
            chosen = [hits[i] for i in group]
            pipe.evalsha(scripts.DECIDE.sha, len(chosen), *script_args(chosen, count, now_ms))
        replies = pipe.execute(raise_on_error=False)
        out = []
        for group, reply in zip(batch.groups, replies, strict=True):
            if isinstance(reply, _REROUTE):
                # The slot moved (or the script is missing) since the map was read: send this
                # group again through RedisCluster, which follows the redirection.
                reply = self._evalsha(hits, group, count, now_ms)
            elif isinstance(reply, Exception):
                raise reply
            out.append(reply)
        return out


__all__ = ["UNCOVERED", "ClusterStore", "ShardBatch", "ShardOutcome"]
