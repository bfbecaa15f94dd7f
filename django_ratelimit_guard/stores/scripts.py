"""The Lua scripts (package data under ``lua/``) and the one NOSCRIPT recovery.

Scripts run by SHA (``EVALSHA``). A Redis that restarted, failed over to a replica that never saw
the script, or ran ``SCRIPT FLUSH`` answers ``NOSCRIPT``: that is not an outage, so the caller's
``load`` puts the script back and the call is sent once more (:func:`run`, :func:`arun`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import redis.exceptions as rexc

T = TypeVar("T")
A = TypeVar("A")


@dataclass(frozen=True)
class Script:
    name: str
    lua: str
    sha: str

    @classmethod
    def read(cls, filename: str) -> Script:
        lua = (
            resources.files("django_ratelimit_guard.stores").joinpath(f"lua/{filename}").read_text()
        )
        return cls(filename, lua, hashlib.sha1(lua.encode(), usedforsecurity=False).hexdigest())


#: Every hit of one request, decided atomically (``decide.lua``).
DECIDE = Script.read("decide.lua")
#: One counter taken in memory during an outage, merged into Redis (``merge.lua``).
MERGE = Script.read("merge.lua")
#: The most-limited clients' Space-Saving table (``top_clients.lua``).
TOP_CLIENTS = Script.read("top_clients.lua")
#: Concurrency slots: leases taken before a view and given back after it (``concurrency.lua``).
CONCURRENCY = Script.read("concurrency.lua")


def run(script: Script, send: Callable[[A], T], arg: A, load: Callable[[str], Any]) -> T:
    """``send(arg)``; after a NOSCRIPT, ``load(script.lua)`` and ``send(arg)`` once more.

    (``send`` and its argument come apart so that the decision path builds no closure per call.)
    """
    try:
        return send(arg)
    except rexc.NoScriptError:
        load(script.lua)
        return send(arg)


async def arun(
    script: Script,
    send: Callable[[A], Awaitable[T]],
    arg: A,
    load: Callable[[str], Awaitable[Any]],
) -> T:
    """The async twin of :func:`run`."""
    try:
        return await send(arg)
    except rexc.NoScriptError:
        await load(script.lua)
        return await send(arg)


__all__ = ["CONCURRENCY", "DECIDE", "MERGE", "TOP_CLIENTS", "Script", "arun", "run"]
