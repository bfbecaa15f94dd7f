"""The Redis store: every hit of a request decided by one EVALSHA of ``lua/decide.lua``.

The raw client comes from ``django_redis.get_redis_connection`` — never ``cache.incr``, which is
not atomic on every django-redis version and whose ``IGNORE_EXCEPTIONS`` would hide outages.
Errors leave as :class:`StoreError` (``errors.py``); the caller times the call and reports it to
the scope's breaker (``engine/guarded.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django_redis import get_redis_connection

from django_ratelimit_guard.core.algorithms import Hit, Verdict
from django_ratelimit_guard.stores import scripts
from django_ratelimit_guard.stores.direct import Evalsha, PublicEvalsha, evalsha_for
from django_ratelimit_guard.stores.errors import REDIS_ERRORS, store_error
from django_ratelimit_guard.stores.packing import hit_argv, pack_decide

logger = logging.getLogger("django_ratelimit_guard")


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
        Verdict(reply[i + 2] == 0, reply[i], reply[i + 1], reply[i + 2]) for i in range(0, 3 * n, 3)
    ]


class SyncClientStore:
    """What the stores built on a sync redis-py client share: the async twin of ``hit_many`` in a
    worker thread, and ``reset`` as one DEL (a ``RedisCluster`` splits the keys per slot)."""

    scope: str
    alias: str
    _client: Any

    @property
    def client(self) -> Any:
        """The cache alias's raw redis-py client (looked up on first use)."""
        if self._client is None:
            self._client = get_redis_connection(self.alias)
        return self._client

    def hit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        raise NotImplementedError

    def load_script(self, lua: str) -> Any:
        """``SCRIPT LOAD`` (after a NOSCRIPT, see ``scripts.run``)."""
        return self.client.script_load(lua)

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
        except REDIS_ERRORS as exc:
            raise store_error(self.scope, exc) from exc


class RedisStore(SyncClientStore):
    """Counts in the Redis behind a django-redis cache alias."""

    def __init__(self, alias: str, client: Any = None) -> None:
        self.scope = self.alias = alias
        self._client = client
        self._evalsha: Evalsha | None = None if client is None else evalsha_for(client)

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
            payload: Any = [scripts.DECIDE.sha, n, *script_args(hits, count, now_ms)]
            send = run
        else:
            payload = pack_decide(scripts.DECIDE.sha, hits, count, now_ms)
        try:
            reply = scripts.run(scripts.DECIDE, send, payload, self.load_script)
        except REDIS_ERRORS as exc:
            raise store_error(self.scope, exc) from exc
        except (AttributeError, TypeError) as exc:  # a redis-py internal of the lean path changed
            if getattr(run, "public", False):
                raise
            reply = self._demote(exc, [scripts.DECIDE.sha, n, *script_args(hits, count, now_ms)])
        return parse_reply(reply, n)

    def _demote(self, exc: BaseException, args: list[Any]) -> Any:
        """From now on the client's own ``evalsha``; this call through it too. (The lean path
        failed before it sent anything: a changed internal raises on its first use.)"""
        logger.warning(
            "The Redis fast path does not fit this redis-py (%s: %s); using redis-py's own "
            "evalsha from now on.",
            type(exc).__name__,
            exc,
            extra={"scope": self.scope},
        )
        self.close()
        self._evalsha = PublicEvalsha(self.client)
        try:
            return scripts.run(scripts.DECIDE, self._evalsha, args, self.load_script)
        except REDIS_ERRORS as error:
            raise store_error(self.scope, error) from error


__all__ = ["RedisStore", "SyncClientStore", "parse_reply", "script_args"]
