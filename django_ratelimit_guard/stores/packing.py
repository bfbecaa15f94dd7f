"""The decision's EVALSHA as RESP bytes, assembled from cached pieces.

redis-py packs a command argument by argument in Python: about 6 µs for the ten arguments of a
one-policy decision, more than Redis spends running the script. A request's command is mostly
the same bytes every time — the script's SHA, and per policy its storage key, algorithm, limit,
window, cost and block flag — so each hit's two pieces are encoded once and cached with the
(immutable) hit, and a command is one concatenation (docs/performance.md). Only the lean path
(``stores/direct.py``) sends these; every other client gets the arguments (``script_args``).

The bytes are exactly what ``Connection.pack_command`` produces for the same arguments under
UTF-8 (a test holds them to it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django_ratelimit_guard.core.algorithms import Hit


def bulk(value: str | int) -> bytes:
    """One RESP bulk string."""
    raw = str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def hit_argv(hit: Hit) -> tuple[str, int, int, int, int]:
    """A hit's five ARGV values, as ``lua/decide.lua`` reads them (here and in ``script_args``)."""
    return (hit.algorithm.code, hit.limit, hit.window_ms, hit.cost, 1 if hit.block else 0)


@functools.lru_cache(maxsize=8192)
def _pieces(hit: Hit) -> tuple[bytes, bytes]:
    """A hit's KEYS piece and its ARGV piece."""
    return bulk(hit.key), b"".join(bulk(value) for value in hit_argv(hit))


@functools.lru_cache(maxsize=64)
def _head(sha: str, n: int) -> bytes:
    # EVALSHA, the SHA, numkeys, n keys, "now", "count", 5 arguments per hit.
    return b"*%d\r\n%s%s%s" % (5 + 6 * n, bulk("EVALSHA"), bulk(sha), bulk(n))


_SERVER_CLOCK = bulk("")
_COUNT, _PEEK = bulk(1), bulk(0)


def pack_decide(sha: str, hits: Sequence[Hit], count: bool, now_ms: int | None) -> bytes:
    """``EVALSHA sha len(hits) *script_args(hits, count, now_ms)`` as RESP."""
    now = _SERVER_CLOCK if now_ms is None else bulk(now_ms)
    if len(hits) == 1:  # the common case, without the lists
        key, argv = _pieces(hits[0])
        return b"".join((_head(sha, 1), key, now, _COUNT if count else _PEEK, argv))
    pieces = [_pieces(hit) for hit in hits]
    return b"".join(
        [
            _head(sha, len(hits)),
            *(p[0] for p in pieces),
            now,
            _COUNT if count else _PEEK,
            *(p[1] for p in pieces),
        ]
    )


def forget() -> None:
    """Drop the cached pieces (settings reload: the hits of old policies are garbage)."""
    _pieces.cache_clear()
