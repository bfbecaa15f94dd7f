"""EVALSHA without redis-py's per-command machinery, for the Redis store's hot path.

``Redis.execute_command`` wraps every command in work a rate-limit decision does not want: a
retry loop (redis-py 6+ retries timeouts and connection errors by default, which multiplies the
wait on a frozen Redis before the breaker hears of one failure, and can run a counting script
twice when only its reply was lost), OpenTelemetry recording and event dispatch; and its pool
takes a lock, asks the kernel for the pid twice and polls the socket on every checkout. Together
that is about 15 µs of a 25 µs loopback round trip (docs/performance.md).

So a plain ``redis.Redis`` over a plain ``ConnectionPool`` gets one connection per thread, built
from the pool's own connection class and arguments (host, password, TLS, timeouts — everything
the cache alias configures) and kept outside the pool; a ``BlockingConnectionPool``, whose size
the user chose to cap, is checked out per call instead. Either way a connection is checked for a
close or stray data before it is used (as the pool does), disconnects itself on socket errors,
and is replaced after a fork. Anything else — Cluster, Sentinel, client-side caching, a dedicated
connection, subclasses — keeps its own ``evalsha``.

The per-thread connection also takes commands already packed (``packed``, see ``packing.py``),
and checks for a close with one ``poll`` of its socket instead of redis-py's ``can_read`` (which
switches the socket to non-blocking and back: three system calls, 4 µs here).
"""

from __future__ import annotations

import inspect
import os
import select
import ssl
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.exceptions as rexc

Evalsha = Callable[[Sequence[Any]], Any]


def _named_get_connection(get_connection: Callable[..., Any]) -> bool:
    """redis-py < 5.3 wants a command name; later versions warn when given one (and a future one
    may drop the parameter)."""
    try:
        parameter = inspect.signature(get_connection).parameters.get("command_name")
    except (TypeError, ValueError):  # no signature to read: pass nothing
        return False
    return parameter is not None and parameter.default is inspect.Parameter.empty


_NAMED_GET_CONNECTION = _named_get_connection(redis.ConnectionPool.get_connection)

#: What the lean path uses of a redis-py connection besides its public commands. Checked on a
#: fresh (unconnected) connection before the lean path is chosen: a redis-py release that renames
#: or drops one of them gets the client's own ``evalsha`` instead (docs/performance.md).
LEAN_METHODS = ("send_packed_command", "send_command", "read_response", "disconnect", "connect")

# Bumped in a forked child: connections inherited from the parent are never used there.
_fork_generation = 0


def _after_fork() -> None:
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def direct_pool(client: Any) -> Any | None:
    """The pool behind ``client`` when EVALSHA may bypass ``client.evalsha``, else None."""
    if type(client) is not redis.Redis or getattr(client, "connection", None) is not None:
        return None
    pool = getattr(client, "connection_pool", None)
    if type(pool) not in (redis.ConnectionPool, redis.BlockingConnectionPool):
        return None
    if getattr(pool, "cache", None) is not None:
        return None
    return pool


def evalsha_on(pool: Any, args: Sequence[Any]) -> Any:
    """``EVALSHA *args`` on a connection checked out of ``pool`` for this call, no retries."""
    conn = pool.get_connection("EVALSHA") if _NAMED_GET_CONNECTION else pool.get_connection()
    try:
        conn.send_command("EVALSHA", *args)
        return conn.read_response()  # error replies raise; socket errors disconnect first
    finally:
        pool.release(conn)


def connect_once(conn: Any) -> None:
    """Connect and handshake in one attempt: on a frozen Redis the kernel still completes the
    TCP handshake, and redis-py 6+'s ``connect()`` would retry the timed-out HELLO with backoff
    (seconds, where the breaker must hear of it after one socket timeout)."""
    connect_checked = getattr(conn, "connect_check_health", None)
    if connect_checked is None:  # redis-py < 6: connect() does not retry by default
        conn.connect()
    else:
        connect_checked(check_health=True, retry_socket_connect=False)


class _Slot:
    """One thread's connection, and the socket its close check watches."""

    __slots__ = ("conn", "generation", "poll", "sock")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.generation = _fork_generation
        self.sock: Any = None
        self.poll: Any = None


class ThreadConnections:
    """``EVALSHA *args`` on this thread's own connection, built from ``pool``'s settings.

    The connections are owned here, not left to the garbage collector: a thread's connection is
    closed once the thread has ended (checked whenever a new thread asks for one, so a server
    that starts a thread per request keeps as many sockets as it has live threads), all of them
    by ``close()`` (the store is discarded on a settings reload), and a forked child never uses
    or shuts down the ones it inherited.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._slots: dict[int, _Slot] = {}  # by thread ident
        self._lock = threading.Lock()
        # Dropped without close() (a store built by hand): close the sockets then, explicitly —
        # left to the collector, a socket in a reference cycle may be finalized before redis-py's
        # Connection.__del__ gets to close it.
        weakref.finalize(self, _close_slots, self._slots)
        kwargs = pool.connection_kwargs
        if kwargs.get("encoding", "utf-8").lower() not in ("utf-8", "utf8"):
            self.packed = None  # type: ignore[assignment]  # packing.py encodes UTF-8 only

    def _slot(self) -> _Slot:
        slot = self._slots.get(threading.get_ident())
        if slot is None or slot.generation != _fork_generation:
            slot = self._new_slot()
        return slot

    def _new_slot(self) -> _Slot:
        with self._lock:
            live = {thread.ident for thread in threading.enumerate()}
            for ident, slot in list(self._slots.items()):
                if slot.generation != _fork_generation:
                    del self._slots[ident]  # the parent's: its socket is the parent's to close
                elif ident not in live:
                    del self._slots[ident]
                    slot.conn.disconnect()
            slot = self._slots[threading.get_ident()] = _Slot(
                self.pool.connection_class(**self.pool.connection_kwargs)
            )
            return slot

    def connection(self) -> Any:
        """This thread's connection (created on first use; not necessarily connected)."""
        return self._slot().conn

    def _ready(self) -> Any:
        """This thread's connection, connected, with nothing unread and not closed by Redis."""
        slot = self._slot()
        conn = slot.conn
        # _sock is None until connected; connect() would cost a retry wrapper even then.
        sock = getattr(conn, "_sock", None)
        if sock is None:
            connect_once(conn)
            return conn
        if sock is not slot.sock:  # connected since the last check: watch the new socket
            slot.sock, slot.poll = sock, _poller(sock)
        if _stale(conn, slot.poll):
            conn.disconnect()
            connect_once(conn)
        return conn

    def __call__(self, args: Sequence[Any]) -> Any:
        conn = self._ready()
        conn.send_command("EVALSHA", *args)
        return conn.read_response()  # error replies raise; socket errors disconnect first

    def packed(self, command: bytes) -> Any:
        """Send a command ``packing.py`` already encoded and read its reply."""
        conn = self._ready()
        conn.send_packed_command((command,))
        return conn.read_response()  # error replies raise; socket errors disconnect first

    def close(self) -> None:
        """Close every thread's connection (a thread that calls again gets a new one)."""
        with self._lock:
            _close_slots(self._slots)


def _close_slots(slots: dict[int, _Slot]) -> None:
    mine = [slot for slot in slots.values() if slot.generation == _fork_generation]
    slots.clear()
    for slot in mine:
        slot.conn.disconnect()


def _poller(sock: Any) -> Any:
    # Windows has no poll(); over TLS, bytes on the socket may be TLS records with no reply in
    # them (session tickets, key updates). Both keep redis-py's can_read.
    if not hasattr(select, "poll") or isinstance(sock, ssl.SSLSocket):
        return None
    poller = select.poll()
    poller.register(sock, select.POLLIN | select.POLLPRI)
    return poller


def _stale(conn: Any, poller: Any) -> bool:
    """Whether there is anything to read before the request is sent: every reply is read in
    full, so that is a close by the server (or, after an interrupted call, a stray reply)."""
    try:
        if poller is None:
            return bool(conn.can_read())
        return bool(poller.poll(0))
    except (rexc.ConnectionError, rexc.TimeoutError, OSError):
        return True


def lean_capable(pool: Any) -> bool:
    """Whether ``pool``'s connections have every internal the lean path reads: the methods of
    ``LEAN_METHODS``, ``can_read`` and a ``_sock`` attribute (None until connected)."""
    try:
        conn = pool.connection_class(**pool.connection_kwargs)  # builds, never connects
    except Exception:  # an unexpected constructor: the client's own path
        return False
    return (
        all(callable(getattr(conn, name, None)) for name in (*LEAN_METHODS, "can_read"))
        and hasattr(conn, "_sock")
        and isinstance(getattr(pool, "connection_kwargs", None), dict)
    )


class PublicEvalsha:
    """redis-py's own ``evalsha``: the public API, whatever its internals."""

    public = True
    __slots__ = ("client",)

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, args: Sequence[Any]) -> Any:
        return self.client.evalsha(*args)


def evalsha_for(client: Any) -> Evalsha:
    """The fastest way to run EVALSHA on ``client`` that keeps its semantics."""
    pool = direct_pool(client)
    if pool is None or not lean_capable(pool):
        return PublicEvalsha(client)
    if type(pool) is redis.ConnectionPool:
        return ThreadConnections(pool)
    return lambda args: evalsha_on(pool, args)
