"""Replay protection: each verified nonce is claimed once, with ``SET NX`` in the guarded Redis.

The key is ``<KEY_PREFIX>:{<digest>}:nonce`` where the digest is the keyed hash of key id and
nonce (the Redis Cluster hash tag, like every other key). It lives for twice ``MAX_SKEW_SECONDS``:
a request is accepted for ``skew`` seconds either side of its timestamp, so that covers every
moment at which a replay of it could still pass the clock check.

When Redis can't answer, ``SIGNING['FAIL_MODE']`` decides: ``"closed"`` refuses the request (503),
``"memory"`` claims the nonce in a bounded per-process cache — weaker, because another process
(or this one after a restart) doesn't know that nonce. See docs/security.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum

from asgiref.sync import sync_to_async

from django_ratelimit_guard.conf.sections import GuardSettings
from django_ratelimit_guard.conf.settings import guard_settings, on_reload
from django_ratelimit_guard.core import logs
from django_ratelimit_guard.core.exceptions import StoreError
from django_ratelimit_guard.core.keys import hash_key_value
from django_ratelimit_guard.engine import decide, guarded
from django_ratelimit_guard.stores.cluster import ClusterStore
from django_ratelimit_guard.stores.redis import RedisStore

logger = logging.getLogger("django_ratelimit_guard.signing")

#: Entries of the per-process nonce cache used while Redis is unavailable (FAIL_MODE "memory").
MEMORY_NONCE_ENTRIES = 100_000


class Claim(Enum):
    FRESH = "fresh"  # first use: the request may proceed
    REPLAY = "replay"  # seen before within its lifetime
    UNAVAILABLE = "unavailable"  # could not be decided: refuse with 503


class NonceCacheFull(Exception):
    """Every slot holds a nonce that is still live; evicting one would allow its replay."""


class MemoryNonceCache:
    """Nonces with an expiry, in insertion order (which is expiry order, the TTL being constant),
    so dropping expired ones is O(1) each. Never evicts a live nonce: when full, refuses."""

    def __init__(
        self, max_entries: int = MEMORY_NONCE_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[key]

    def seen(self, key: str) -> bool:
        with self._lock:
            expires = self._expiry.get(key)
            return expires is not None and expires > self.clock()

    def claim(self, key: str, ttl: float) -> bool:
        """True when ``key`` was not live yet (and is now); raises :class:`NonceCacheFull`."""
        with self._lock:
            now = self.clock()
            self._purge(now)
            expires = self._expiry.get(key)
            if expires is not None and expires > now:
                return False
            if len(self._expiry) >= self.max_entries:
                raise NonceCacheFull
            self._expiry[key] = now + ttl
            return True

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()


memory_cache = MemoryNonceCache()


@on_reload
def _forget() -> None:
    memory_cache.clear()


def nonce_key(config: GuardSettings, key_id: str, nonce: str) -> str:
    digest = hash_key_value(f"{key_id}\n{nonce}", config.key_secret)
    return f"{config.key_prefix}:{{{digest}}}:nonce"


def redis_claim(store: RedisStore | ClusterStore, key: str, ttl: int) -> bool:
    """SET NX EX in the CACHE_ALIAS Redis; raises on any Redis or socket error."""
    return bool(store.client.set(key, b"1", nx=True, ex=ttl))


def _claim_in_redis(config: GuardSettings, key: str, ttl: int) -> bool | None:
    """Claim through the cache alias's circuit breaker, as rate-limit calls go (``guarded.py``):
    None when the breaker is open or the call failed (then the fail mode decides)."""

    def failed(error: StoreError) -> None:
        logs.log(
            logger,
            logging.WARNING,
            f"nonce_store:{error.reason}",
            "Nonce store (Redis %r) failed (%s); SIGNING FAIL_MODE is %r.",
            config.cache_alias,
            error.reason,
            config.signing.fail_mode,
        )

    fresh = decide.redis_call(lambda store: redis_claim(store, key, ttl), failed)
    return None if fresh is guarded.UNAVAILABLE else bool(fresh)


def claim(key_id: str, nonce: str) -> Claim:
    """Claim a verified request's nonce; never raises for a store problem."""
    config = guard_settings()
    signing = config.signing
    key = nonce_key(config, key_id, nonce)
    ttl = 2 * signing.max_skew_seconds
    fresh = _claim_in_redis(config, key, ttl)
    if fresh is not None:
        # A nonce claimed in memory during an outage is unknown to Redis: check it here too,
        # or it could be replayed to this process as soon as Redis is back.
        if fresh and len(memory_cache) and memory_cache.seen(key):
            return Claim.REPLAY
        return Claim.FRESH if fresh else Claim.REPLAY
    if signing.fail_mode != "memory":
        return Claim.UNAVAILABLE
    try:
        return Claim.FRESH if memory_cache.claim(key, ttl) else Claim.REPLAY
    except NonceCacheFull:
        logs.log(
            logger,
            logging.ERROR,
            "nonce_cache_full",
            "The in-memory nonce cache is full (%d live nonces); refusing signed requests until "
            "nonces expire or Redis is back.",
            memory_cache.max_entries,
        )
        return Claim.UNAVAILABLE


async def aclaim(key_id: str, nonce: str) -> Claim:
    return await sync_to_async(claim, thread_sensitive=False)(key_id, nonce)
