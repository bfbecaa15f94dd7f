"""Timing: the verification core costs the same whichever way a signature is wrong.

Statistical, not a stopwatch: the variants are timed interleaved, in batches, in random order,
so load on the machine hits all of them alike, and the medians are compared with a wide margin.
The same statistic is shown to catch a deliberately leaky verifier (an early return for unknown
key ids), so the test can fail. Network jitter would swamp microseconds over HTTP; the HTTP path
adds no branch that depends on the key id or the signature (see docs/security.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import random
import statistics
import time
from collections.abc import Callable, Mapping

from django_ratelimit_guard import signing
from django_ratelimit_guard.signing import Credentials, SignatureError, verify_signature

ROUNDS = 300
BATCH = 20
# Variants of one constant-work verifier must be within this ratio of each other...
SAME_WORK_RATIO = 1.3
# ...while the leaky control must exceed this one.
LEAK_RATIO = 1.5

KEYS: Mapping[str, tuple[bytes, ...]] = {
    "client-1": (b"k" * 40, b"o" * 40),
    "client-2": (b"m" * 40,),
}
MESSAGE = signing.string_to_sign(
    "POST",
    "/api/v1/orders",
    "page=2",
    "api.example.com",
    1700000000,
    "0123456789abcdef",
    "client-1",
    b"x" * 200,
)
GOOD = hmac.new(b"k" * 40, MESSAGE, hashlib.sha256).hexdigest()


def _credentials(key_id: str, sig: str) -> Credentials:
    return Credentials(key_id, 1700000000, "0123456789abcdef", sig.encode())


def _flip(sig: str, index: int) -> str:
    return sig[:index] + ("0" if sig[index] != "0" else "1") + sig[index + 1 :]


def _attempt(verifier: Callable[..., None], credentials: Credentials) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(SignatureError):
            verifier(credentials, MESSAGE, KEYS, 2)

    return run


def leaky_verify(
    credentials: Credentials, message: bytes, keys: Mapping[str, tuple[bytes, ...]], slots: int
) -> None:
    if credentials.key_id not in keys:
        raise SignatureError("unknown_key")  # the early return a careless verifier would have
    verify_signature(credentials, message, keys, slots)


def medians(variants: dict[str, Callable[[], None]]) -> dict[str, float]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    names = list(variants)
    rng = random.Random(4)  # shuffled order, reproducible
    for _ in range(ROUNDS):
        rng.shuffle(names)
        for name in names:
            run = variants[name]
            started = time.perf_counter_ns()
            for _ in range(BATCH):
                run()
            samples[name].append(time.perf_counter_ns() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def spread(times: dict[str, float]) -> float:
    return max(times.values()) / min(times.values())


def test_unknown_key_ids_and_wrong_signatures_cost_the_same() -> None:
    times = medians(
        {
            "unknown key id": _attempt(verify_signature, _credentials("nobody", GOOD)),
            "first digit wrong": _attempt(
                verify_signature, _credentials("client-1", _flip(GOOD, 0))
            ),
            "last digit wrong": _attempt(
                verify_signature, _credentials("client-1", _flip(GOOD, 63))
            ),
            "one-secret key id": _attempt(verify_signature, _credentials("client-2", GOOD)),
        }
    )  # (a valid signature is faster — no exception — but that tells the caller nothing new)
    assert spread(times) < SAME_WORK_RATIO, times


def test_the_statistic_catches_an_early_return_for_unknown_key_ids() -> None:
    times = medians(
        {
            "unknown key id": _attempt(leaky_verify, _credentials("nobody", GOOD)),
            "wrong signature": _attempt(leaky_verify, _credentials("client-1", _flip(GOOD, 0))),
        }
    )
    assert spread(times) > LEAK_RATIO, times
