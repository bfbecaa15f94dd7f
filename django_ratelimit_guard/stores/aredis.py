"""The native async Redis store: ``redis.asyncio`` with the same script, replies and errors.

``acheck``, the async middleware and async decorated views decide through this store without a
thread hop per request. The client is built from the same django-redis cache settings as the sync
one — ``LOCATION``, ``SOCKET_TIMEOUT``, ``SOCKET_CONNECT_TIMEOUT``, ``USERNAME``/``PASSWORD``,
``CONNECTION_POOL_KWARGS`` — and for django-redis's Sentinel configuration
(``SentinelConnectionFactory`` + ``SENTINELS``) through ``redis.asyncio.sentinel``.

``redis.asyncio`` clients and their pools are bound to the event loop that first used them, so
clients are cached per running loop (weakly: a closed, collected loop takes its clients along).
Aliases this module can't mirror (Redis Cluster, a custom connection factory or client class)
return ``None`` from :func:`async_store`; the guard then runs the sync store in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast
from urllib.parse import urlparse

import redis.asyncio as aredis
import redis.exceptions as rexc
from django.conf import settings
from redis.asyncio.sentinel import Sentinel

from django_ratelimit_guard.core.algorithms import Hit, Verdict
from django_ratelimit_guard.stores import scripts
from django_ratelimit_guard.stores.errors import REDIS_ERRORS, store_error
from django_ratelimit_guard.stores.packing import pack_decide
from django_ratelimit_guard.stores.redis import parse_reply, script_args

logger = logging.getLogger("django_ratelimit_guard")

DEFAULT_CLIENT = "django_redis.client.DefaultClient"
SENTINEL_CLIENT = "django_redis.client.SentinelClient"
SENTINEL_FACTORY = "django_redis.pool.SentinelConnectionFactory"

#: loop -> (clients of that loop by store, the async generator that closes them)
_loops: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[dict[object, Any], AsyncIterator[None]]
] = weakref.WeakKeyDictionary()
#: alias -> its store, or None when it can't be mirrored (cleared on settings reload).
_stores: dict[str, AsyncRedisStore | None] = {}


async def _closer(clients: dict[object, Any]) -> AsyncIterator[None]:
    """Closes a loop's clients when the loop shuts down.

    There is no "loop closing" callback in asyncio, but ``asyncio.run``, ``asyncio.Runner``,
    asgiref's ``async_to_sync`` (a new loop per call under WSGI) and uvicorn all call
    ``loop.shutdown_asyncgens()`` before closing a loop, which finalizes every async generator
    started in it — this one included. Without it, each short-lived loop would leak its sockets.
    """
    try:
        yield
    finally:
        for client in list(clients.values()):
            with contextlib.suppress(Exception):
                await client.aclose()
        clients.clear()


async def _loop_clients(loop: asyncio.AbstractEventLoop) -> dict[object, Any]:
    entry = _loops.get(loop)
    if entry is None:
        clients: dict[object, Any] = {}
        closer = _closer(clients)
        await closer.__anext__()  # started inside the loop: the loop now finalizes it on shutdown
        entry = _loops[loop] = (clients, closer)
    return entry[0]


def connection_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """``redis.asyncio`` keyword arguments from django-redis OPTIONS (as its ConnectionFactory)."""
    kwargs: dict[str, Any] = {}
    for option, name in (
        ("SOCKET_TIMEOUT", "socket_timeout"),
        ("SOCKET_CONNECT_TIMEOUT", "socket_connect_timeout"),
        ("USERNAME", "username"),
        ("PASSWORD", "password"),
    ):
        if options.get(option):
            kwargs[name] = options[option]
    pool_kwargs = options.get("CONNECTION_POOL_KWARGS") or {}
    if isinstance(pool_kwargs, dict):
        kwargs.update(pool_kwargs)
    return kwargs


def mirrorable(cache: dict[str, Any]) -> str | None:
    """``"default"`` or ``"sentinel"`` when this alias's settings can be mirrored, else None."""
    options = cache.get("OPTIONS") or {}
    client_class = options.get("CLIENT_CLASS", DEFAULT_CLIENT)
    factory = options.get("CONNECTION_FACTORY")
    if client_class == SENTINEL_CLIENT and factory == SENTINEL_FACTORY and options.get("SENTINELS"):
        return "sentinel"
    if client_class != DEFAULT_CLIENT or factory not in (
        None,
        "django_redis.pool.ConnectionFactory",
    ):
        return None
    if options.get("CONNECTION_POOL_CLASS") or options.get("REDIS_CLIENT_CLASS"):
        return None  # a sync pool/client class has no async twin we could know of
    return "default"


class _SentinelMaster:
    """The master client of a Sentinel service, closed together with the sentinel clients."""

    def __init__(self, sentinel: Any, master: Any) -> None:
        self.sentinel = sentinel
        self.master = master

    async def aclose(self) -> None:
        await self.master.aclose()
        for client in self.sentinel.sentinels:
            await client.aclose()


def build_client(cache: dict[str, Any]) -> Any:
    """A ``redis.asyncio`` client for the primary of a django-redis cache alias; it has
    ``aclose()``. For Sentinel, a wrapper whose ``.master`` is the client."""
    options = cache.get("OPTIONS") or {}
    location = cache["LOCATION"]
    if not isinstance(location, str):
        location = location[0]
    url = location.split(",")[0].strip()  # django-redis: the first entry is the primary
    kwargs = connection_kwargs(options)
    if mirrorable(cache) == "sentinel":
        parsed = urlparse(url)
        db = int(parsed.path.lstrip("/") or 0)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            options["SENTINELS"], sentinel_kwargs=options.get("SENTINEL_KWARGS"), **kwargs
        )
        return _SentinelMaster(sentinel, sentinel.master_for(parsed.hostname, db=db, **kwargs))
    return aredis.Redis.from_url(url, **kwargs)


def lean_pool(client: Any) -> Any | None:
    """The pool of ``client`` when the decision may skip ``client.evalsha`` — its per-argument
    packing in Python, retry wrapper, pool checkout and per-command observability (as the sync
    lean path, ``direct.py``) — else None: subclasses, a dedicated connection, Sentinel and other
    pools, and encodings other than UTF-8 (``packing.py``) keep the client's own ``evalsha``."""
    if type(client) is not aredis.Redis or getattr(client, "single_connection_client", False):
        return None
    pool: Any = getattr(client, "connection_pool", None)
    if type(pool) is not aredis.ConnectionPool:
        return None
    if str(pool.connection_kwargs.get("encoding", "utf-8")).lower() not in ("utf-8", "utf8"):
        return None
    return pool if _lean_capable(pool) else None


def _lean_capable(pool: Any) -> bool:
    """Whether the pool's connections have the internals ``LoopConnections`` reads (a redis-py
    release that changes them gets the client's own ``evalsha``)."""
    try:
        conn = pool.connection_class(**pool.connection_kwargs)  # builds, never connects
    except Exception:
        return False
    methods = ("send_packed_command", "read_response", "connect", "disconnect")
    return (
        all(callable(getattr(conn, name, None)) for name in methods)
        and hasattr(conn, "is_connected")
        and hasattr(conn, "_reader")
    )


class LoopConnections:
    """This store's own connections on one event loop, for a plain ``ConnectionPool``: the
    async twin of ``direct.ThreadConnections``. redis.asyncio's pool checkout takes a lock,
    awaits two observability calls and reads the socket on every command; here a checkout is a
    list pop and a look at the stream. Connections are built from the pool's own class and
    arguments (host, password, TLS, timeouts), at most ``max_connections`` of them, and closed
    with the loop (``_closer``). A connection goes back to the idle list only after a complete
    reply: one whose call failed or was cancelled is disconnected instead."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.idle: list[Any] = []
        self.open = 0

    def _take(self) -> Any:
        if self.idle:
            return self.idle.pop()
        if self.open >= self.pool.max_connections:
            raise rexc.ConnectionError("Too many connections")  # classified "pool", not an outage
        self.open += 1
        return self.pool.connection_class(**self.pool.connection_kwargs)

    async def send(self, command: bytes) -> Any:
        conn = self._take()
        try:
            if conn.is_connected:
                reader = getattr(conn, "_reader", None)
                if reader is None or reader.at_eof():  # closed by the server while idle
                    await conn.disconnect(nowait=True)
            if not conn.is_connected:
                await conn.connect()  # as the pool's own checkout does
            await conn.send_packed_command(command)
            reply = await conn.read_response()
        except rexc.ResponseError:
            self.idle.append(conn)  # an error reply (NOSCRIPT, OOM, ...) was read in full
            raise
        except BaseException:
            self.open -= 1
            await conn.disconnect(nowait=True)  # a reply may be unread: never reuse it
            raise
        self.idle.append(conn)
        return reply

    async def aclose(self) -> None:
        idle, self.idle = self.idle, []
        self.open -= len(idle)
        for conn in idle:
            await conn.disconnect(nowait=True)


class AsyncRedisStore:
    """The async twin of ``RedisStore``: same script, same replies, same error classification."""

    def __init__(self, alias: str, cache: dict[str, Any]) -> None:
        self.scope = alias
        self._cache = cache
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._lean: LoopConnections | None = None
        self.lean_broken = False  # a changed internal was met: the client's own evalsha only

    async def client(self) -> Any:
        """This store's client for the running event loop (created on first use in that loop)."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return self._client  # the hot path: the same long-lived loop as last time
        clients = await _loop_clients(loop)
        made = clients.get(id(self))
        if made is None:
            made = clients[id(self)] = build_client(self._cache)
        client = made.master if isinstance(made, _SentinelMaster) else made
        pool = None if self.lean_broken else lean_pool(client)
        lean = None
        if pool is not None:
            # Our own connections next to the client's pool, closed with the loop as it is.
            lean = clients.get((id(self), "lean"))
            if lean is None:
                lean = clients[(id(self), "lean")] = LoopConnections(pool)
        self._loop, self._client, self._lean = loop, client, lean
        return client

    async def ahit_many(
        self, hits: Sequence[Hit], *, count: bool = True, now_ms: int | None = None
    ) -> list[Verdict]:
        if not hits:
            return []
        client = await self.client()
        lean = self._lean
        send: Callable[[Any], Awaitable[Any]]
        payload: Any
        if lean is not None:  # the command pre-packed, on a connection of our own
            send, payload = lean.send, pack_decide(scripts.DECIDE.sha, hits, count, now_ms)
        else:
            send = lambda args: client.evalsha(*args)  # noqa: E731
            payload = [scripts.DECIDE.sha, len(hits), *script_args(hits, count, now_ms)]
        try:
            reply = await scripts.arun(scripts.DECIDE, send, payload, client.script_load)
        except REDIS_ERRORS as exc:
            raise store_error(self.scope, exc) from exc
        except (AttributeError, TypeError) as exc:  # a redis.asyncio internal changed
            if lean is None:
                raise
            reply = await self._demote(exc, client, hits, count, now_ms)
        return parse_reply(reply, len(hits))

    async def _demote(
        self, exc: BaseException, client: Any, hits: Sequence[Hit], count: bool, now_ms: int | None
    ) -> Any:
        """From now on (every loop) the client's own ``evalsha``, this call included."""
        logger.warning(
            "The async Redis fast path does not fit this redis-py (%s: %s); using redis.asyncio's "
            "own evalsha from now on.",
            type(exc).__name__,
            exc,
            extra={"scope": self.scope},
        )
        self.lean_broken = True
        self._lean = None
        args = [scripts.DECIDE.sha, len(hits), *script_args(hits, count, now_ms)]
        try:
            return await scripts.arun(
                scripts.DECIDE, lambda a: client.evalsha(*a), args, client.script_load
            )
        except REDIS_ERRORS as error:
            raise store_error(self.scope, error) from error


def async_store(alias: str) -> AsyncRedisStore | None:
    """The native async store of ``alias``, or None when only the sync client can serve it."""
    try:
        return _stores[alias]
    except KeyError:
        pass
    cache = cast("dict[str, Any] | None", settings.CACHES.get(alias))
    store = AsyncRedisStore(alias, dict(cache)) if cache and mirrorable(cache) else None
    _stores[alias] = store
    return store


def forget_async_stores() -> None:
    """Forget the stores (settings reloads); their clients are closed with their loops."""
    _stores.clear()


__all__ = [
    "AsyncRedisStore",
    "async_store",
    "build_client",
    "connection_kwargs",
    "forget_async_stores",
]
