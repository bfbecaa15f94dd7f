"""The limiter behind django-redis's own Sentinel configuration, through a real failover."""

from __future__ import annotations

import time

import pytest

from django_ratelimit_guard import acheck, check
from django_ratelimit_guard.engine.breakers import get_breaker
from tests.support.builders import recovering_breaker, request_from
from tests.support.redis_cluster import wait_for

pytestmark = [
    pytest.mark.sentinel,
    pytest.mark.guard(
        {"hourly": {"rate": "40/h", "key": "ip"}}, breaker=recovering_breaker(2, 0.3), on="sentinel"
    ),
]
SENTINEL_CLIENT = "203.0.113.20"


def test_sentinel_configuration_decides_on_the_master(guarded):
    result = check(request_from(SENTINEL_CLIENT), "hourly")
    assert (result.source, result.remaining) == ("redis", 39)


async def test_acheck_through_sentinel_is_native_and_shares_the_counter(guarded):
    check(request_from(SENTINEL_CLIENT), "hourly")
    result = await acheck(request_from(SENTINEL_CLIENT), "hourly")
    assert (result.source, result.remaining) == ("redis", 38)


def test_failover_recovers_through_the_breaker_and_replicated_counts_survive(guarded):
    for _ in range(5):
        check(request_from(SENTINEL_CLIENT), "hourly")
    master = guarded.server(guarded.current_master_port())
    master.client().execute_command("WAIT", 1, 2000)  # the replica has the 5 counts

    old = guarded.crash_master()
    crashed_at = time.monotonic()
    seen = []

    def back_on_redis() -> bool:
        result = check(request_from(SENTINEL_CLIENT), "hourly")
        seen.append(result.source)
        return result.source == "redis"

    wait_for(back_on_redis, 20, "the limiter back on Redis", interval=0.1)
    recovered_after = time.monotonic() - crashed_at
    new = guarded.server(guarded.current_master_port())
    print(
        f"sentinel failover: limiter back on Redis {recovered_after:.2f} s after the crash; "
        f"{seen.count('memory')} checks decided in memory meanwhile"
    )
    # The outage was seen (the breaker opened and kept Redis out) and ended without a restart.
    assert seen.count("memory") >= 2
    assert new.port != old.port
    final = check(request_from(SENTINEL_CLIENT), "hourly")
    # 5 before the crash + every check since (memory ones merged back on recovery) + this one.
    assert final.source == "redis"
    assert final.remaining <= 40 - 5 - len(seen) - 1 + seen.count("memory")
    assert final.remaining <= 40 - 5 - 2
    assert get_breaker("ratelimit").state.value == "closed"
