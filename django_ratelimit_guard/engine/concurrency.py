"""Concurrency limits (issue #15): at most N requests of one key in flight, per policy.

Before the view, :func:`acquire` takes a slot of every concurrency policy of the request — one
EVALSHA of ``stores/lua/concurrency.lua`` per client hash tag (one for the usual single policy),
atomic and all or nothing — and after the response :func:`release` gives the lease back by its id
(``edge/staged.py`` calls it in a ``finally``: on exceptions and cancelled ASGI tasks too). A slot
is a lease that expires after ``concurrency_timeout`` seconds, so a worker that dies holding one
leaks it for that long, never forever.

Both calls are guarded calls (``engine/guarded.py``) on the scope that holds the key: the alias,
or under Redis Cluster the shard that owns the client's hash tag (the storage key
``<prefix>:{<digest>}:<policy>:cc`` shares the tag of the client's rate counters). When Redis
can't be used the policy's fail mode decides: ``memory`` takes a slot in this process
(``stores/slots.py``, ``ceil(N / FALLBACK['WORKERS'])`` per process), ``closed`` answers 503,
``open`` admits. A release goes back to wherever its slot was taken.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from django_ratelimit_guard.conf.sections import GuardSettings
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.decisions import Decision, Result, Source, new_decision
from django_ratelimit_guard.core.policies import FailMode, Policy
from django_ratelimit_guard.engine import decide, exemptions, guarded
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.engine.plan import storage_key
from django_ratelimit_guard.stores import scripts
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.redis import RedisStore
from django_ratelimit_guard.stores.slots import memory_slots

#: A full concurrency policy asks the client to come back in one second.
RETRY_AFTER = 1.0


@dataclass
class Leases:
    """The slots one request holds, by where they were taken: give them back with release()."""

    lease: str
    redis: list[tuple[str, list[str]]] = field(default_factory=list)  # (scope, keys)
    memory: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.redis or self.memory)


@dataclass
class _Slot:
    policy: Policy
    key: str
    limit: int


def _slots(request: HttpRequest, policies: Sequence[Policy], config: GuardSettings) -> list[_Slot]:
    """The concurrency policies that apply to this request, with their storage keys."""
    out = []
    for policy in policies:
        if policy.concurrency is None or not policy.applies_to_method(request.method):
            continue
        if policy.exempt_paths and policy.is_exempt_path(request.path_info):
            continue
        if policy.screened and exemptions.exempt(policy, request, config.client_ip):
            continue
        value = policy.key.func(request)
        if value is None:
            continue
        out.append(_Slot(policy, storage_key(config, policy, str(value)), policy.concurrency))
    return out


def _scope(store: RedisStore | ClusterStore, key: str) -> str:
    if isinstance(store, ClusterStore):
        client = store.client
        return store.shard_scope(client.nodes_manager.get_node_from_slot(client.keyslot(key)))
    return store.scope


def _evalsha(store: RedisStore | ClusterStore, keys: list[str], argv: list[Any]) -> Any:
    client = store.client

    def load(lua: str) -> Any:
        if isinstance(store, ClusterStore):  # on the node that owns the keys only
            node = client.get_node_from_key(keys[0])
            return client.execute_command("SCRIPT LOAD", lua, target_nodes=node)
        return client.script_load(lua)

    return scripts.run(
        scripts.CONCURRENCY,
        lambda a: client.evalsha(*a),
        [scripts.CONCURRENCY.sha, len(keys), *keys, *argv],
        load,
    )


def _decision(slot: _Slot, room: bool, held: int, source: Source, limit: int) -> Decision:
    return new_decision(
        slot.policy.name,
        room,
        limit,
        max(0, limit - held),
        0.0,
        0.0 if room else RETRY_AFTER,
        source,
        0,  # no window: concurrency policies send no RateLimit fields (edge/responses.py)
        slot.policy.block,
    )


def acquire(request: HttpRequest, policies: Sequence[Policy]) -> tuple[Leases, Result]:
    """Take a slot of every concurrency policy in ``policies`` that applies to ``request``."""
    config = guard_settings()
    leases = Leases(os.urandom(9).hex())
    if not config.enabled:
        return leases, Result()
    slots = _slots(request, policies, config)
    if not slots:
        return leases, Result()
    store = decide.redis_store()
    groups: dict[str, list[_Slot]] = {}
    for slot in slots:  # one script per hash tag: {digest} is the client
        groups.setdefault(slot.key.split("}", 1)[0], []).append(slot)
    decisions: list[Decision] = []
    refused = False
    for group in groups.values():
        got = _acquire_group(store, group, leases, config)
        decisions += got
        if any(d.rejected for d in got):
            refused = True
            break
    if refused:
        release(leases)  # all or nothing across groups too
        leases = Leases(leases.lease)
    return leases, Result(decisions)


def _acquire_group(
    store: RedisStore | ClusterStore, group: list[_Slot], leases: Leases, config: GuardSettings
) -> list[Decision]:
    keys = [s.key for s in group]
    scope = _scope(store, keys[0])
    argv: list[Any] = ["acquire", leases.lease]
    for s in group:
        argv += [s.limit, s.policy.concurrency_timeout * 1000, 1 if s.policy.block else 0]
    reply = guarded.call(scope, lambda: _evalsha(store, keys, argv), decide.merge_for(store))
    if not isinstance(reply, guarded.Unavailable):
        granted = bool(reply[0])
        if granted:
            leases.redis.append((scope, keys))
        return [
            _decision(s, bool(reply[2 * i + 2]), int(reply[2 * i + 1]), "redis", s.limit)
            for i, s in enumerate(group)
        ]
    return _fail_modes(group, leases, config, get_breaker(scope).retry_after())


def _fail_modes(
    group: list[_Slot], leases: Leases, config: GuardSettings, retry_after: float
) -> list[Decision]:
    out: list[Decision | None] = [None] * len(group)
    memory = [i for i, s in enumerate(group) if s.policy.fail_mode is FailMode.MEMORY]
    for i, s in enumerate(group):
        if s.policy.fail_mode is FailMode.CLOSED:
            wait = max(1.0, retry_after)
            out[i] = new_decision(
                s.policy.name, False, s.limit, 0, wait, wait, "closed", 0, s.policy.block
            )
        elif s.policy.fail_mode is FailMode.OPEN:
            out[i] = new_decision(
                s.policy.name, True, s.limit, s.limit, 0.0, 0.0, "open", 0, s.policy.block
            )
    denied = any(d is not None and d.rejected for d in out)
    if memory and not denied:
        workers = config.fallback.workers
        chosen = [group[i] for i in memory]
        limits = [max(1, math.ceil(s.limit / workers)) for s in chosen]
        keys = [s.key for s in chosen]
        granted, held = memory_slots().acquire(
            keys,
            leases.lease,
            limits,
            [float(s.policy.concurrency_timeout) for s in chosen],
            [s.policy.block for s in chosen],
        )
        if granted:
            leases.memory += keys
        for i, s, (n, room), limit in zip(memory, chosen, held, limits, strict=True):
            out[i] = _decision(s, room, n, "memory", limit)
    elif memory:  # a closed policy already refused: take no slot in memory either
        for i in memory:
            s = group[i]
            out[i] = new_decision(
                s.policy.name, True, s.limit, s.limit, 0.0, 0.0, "memory", 0, s.policy.block
            )
    return [d for d in out if d is not None]


def release(leases: Leases) -> None:
    """Give back every slot of ``leases``. Never raises: a slot Redis could not be told about
    expires with its lease."""
    if leases.memory:
        memory_slots().release(leases.memory, leases.lease)
        leases.memory = []
    if leases.redis:
        store = decide.redis_store()
        for scope, keys in leases.redis:
            argv = ["release", leases.lease]
            guarded.call(scope, lambda k=keys, a=argv: _evalsha(store, k, a))  # type: ignore[misc]
        leases.redis = []


__all__ = ["RETRY_AFTER", "Leases", "acquire", "release"]
