"""The Redis store: every hit of a request decided by one EVALSHA of ``lua/decide.lua``.

The raw client comes from ``django_redis.get_redis_connection`` — never ``cache.incr``, which is
not atomic on every django-redis version and whose ``IGNORE_EXCEPTIONS`` would hide outages.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any

import redis.exceptions as rexc
from asgiref.sync import sync_to_async

from django_ratelimit_guard import metrics
from django_ratelimit_guard.algorithms import Hit, Verdict
from django_ratelimit_guard.exceptions import StoreError, StoreUnavailable
from django_ratelimit_guard.stores.direct import Evalsha, evalsha_for
from django_ratelimit_guard.stores.packing import hit_argv, pack_decide

DECIDE_LUA = resources.files("django_ratelimit_guard.stores").joinpath("lua/decide.lua").read_text()
DECIDE_SHA = hashlib.sha1(DECIDE_LUA.encode(), usedforsecurity=False).hexdigest()


def classify(exc: BaseException) -> str:
    """Name a Redis exception: ``"outage"`` kinds open breakers; ``"pool"``/``"script"`` don't.

    Returns one of ``"connection"``, ``"timeout"``, ``"loading"``, ``"readonly"``, ``"oom"``,
    ``"noscript"``, ``"pool"`` (local pool exhausted), ``"script"`` (a bug in a script or its
    arguments), ``"other"``.
    """
    if isinstance(exc, rexc.NoScriptError):
        return "noscript"
    if isinstance(exc, rexc.BusyLoadingError):
        return "loading"
    if isinstance(exc, rexc.ReadOnlyError):
        return "readonly"
    if isinstance(exc, rexc.TimeoutError):
        return "timeout"
    if isinstance(exc, rexc.ConnectionError):
        # redis-py raises ConnectionError("No connection available.") when a BlockingConnectionPool
        # is exhausted: a local capacity problem, not a Redis outage.
        if "No connection available" in str(exc) or "Too many connections" in str(exc):
            return "pool"
        return "connection"
    if isinstance(exc, rexc.OutOfMemoryError) or (
        isinstance(exc, rexc.ResponseError) and str(exc).startswith("OOM")
    ):
        return "oom"
    if isinstance(exc, rexc.ResponseError):
        if str(exc).startswith(("MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "LOADING")):
            return "loading"
        return "script"
    if isinstance(exc, (OSError, rexc.RedisError)):
        return "connection"
    return "other"


OUTAGE_KINDS = frozenset({"connection", "timeout", "loading", "readonly", "oom"})


def script_args(hits: Sequence[Hit], count: bool, now_ms: int | None) -> list[Any]:
    """KEYS then ARGV of one EVALSHA, as ``evalsha(sha, numkeys, *args)`` wants them."""
    args: list[Any] = [hit.key for hit in hits]
    args.append("" if now_ms is None else now_ms)
    args.append(1 if count else 0)
    for hit in hits:
        args += hit_argv(hit)
    return args


def parse_reply(reply: Sequence[int], n: int) -> list[Verdict]:
    """The script answers ``remaining, reset_ms, retry_ms`` per hit; allowed iff retry_ms is 0."""
    if n == 1:  # the common case, without the comprehension's frame
        return [Verdict(reply[2] == 0, reply[0], reply[1], reply[2])]
    return [
        Verdict(reply[i + 2] == 0, reply[i], reply[i + 1], reply[i + 2])
        for i in range(0, 3 * n, 3)
    ]


class SyncClientStore:
    """What the stores built on a sync redis-py client share: the async twin of ``hit_many`` in a
    worker thread, and ``reset`` as one DEL (a ``RedisCluster`` splits the keys per slot)."""

    @property
    def client(self) -> Any:
        raise NotImplementedError

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        raise NotImplementedError

    def error(self, exc: BaseException) -> StoreError:
        raise NotImplementedError

    async def ahit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        return await sync_to_async(self.hit_many, thread_sensitive=False)(
            hits, count=count, now_ms=now_ms
        )

    def reset(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            self.client.delete(*keys)
        except (rexc.RedisError, OSError) as exc:
            raise self.error(exc) from exc


class RedisStore(SyncClientStore):
    """Counts in the Redis behind a django-redis cache alias."""

    def __init__(self, alias: str, client: Any = None) -> None:
        self.scope = alias
        self._client = client
        self._evalsha: Evalsha | None = None if client is None else evalsha_for(client)

    @property
    def client(self) -> Any:
        if self._client is None:
            from django_redis import get_redis_connection

            self._client = get_redis_connection(self.scope)
        return self._client

    def close(self) -> None:
        """Close the lean path's connections (the client's own pool is django-redis's)."""
        close = getattr(self._evalsha, "close", None)
        if close is not None:
            close()

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        n = len(hits)
        if not n:
            return []
        run = self._evalsha
        if run is None:
            run = self._evalsha = evalsha_for(self.client)
        send = getattr(run, "packed", None)
        if send is None:  # any client but the lean path's own connection: plain arguments
            payload: Any = [DECIDE_SHA, n, *script_args(hits, count, now_ms)]
            send = run
        else:
            payload = pack_decide(DECIDE_SHA, hits, count, now_ms)
        started = time.perf_counter()
        try:
            try:
                reply = send(payload)
            except rexc.NoScriptError:
                # Redis restarted (or SCRIPT FLUSH): load the script again. Not an outage.
                self.client.script_load(DECIDE_LUA)
                reply = send(payload)
        except (rexc.RedisError, OSError) as exc:
            raise self.error(exc) from exc  # counted by guard.error_listeners
        finally:
            metrics.observe_store_latency("redis", time.perf_counter() - started)
        return parse_reply(reply, n)

    def error(self, exc: BaseException) -> StoreError:
        kind = classify(exc)
        if kind in OUTAGE_KINDS:
            return StoreUnavailable(f"Redis ({self.scope}) is unavailable: {exc}", scope=self.scope, reason=kind)
        error = StoreError(f"Redis ({self.scope}) refused the rate-limit script: {exc}")
        error.reason = kind  # type: ignore[attr-defined]
        return error
