"""exempt_ips and skip_if (issue #15): an exempted request is not counted, gets no header fields
for the policy, and costs no Redis call; against a real redis-server."""

from __future__ import annotations

import pytest
from django.test import AsyncClient, Client, RequestFactory

from tests.support import capability_views  # noqa: F401  (declares its inline policies now)
from tests.support.capability_settings import guard

pytestmark = [pytest.mark.urls("tests.support.capability_urls"), pytest.mark.django_db]

PROXY = "192.0.2.10"  # a trusted proxy (capability_settings.guard)


@pytest.fixture
def office(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = guard()
    return redis


def get(ip: str, **extra: str):  # type: ignore[no-untyped-def]
    return Client().get("/office/", REMOTE_ADDR=ip, **extra)


def test_an_office_address_is_never_limited_and_costs_no_redis_call(office):
    get("203.0.113.1")  # loads the script
    office.client().config_resetstat()
    for _ in range(10):
        response = get("10.1.2.3")
        assert response.status_code == 200
        assert "RateLimit" not in response and "RateLimit-Policy" not in response
    stats = office.client().info("commandstats")
    assert not any(name.startswith("cmdstat_eval") for name in stats), stats


def test_an_address_outside_the_office_is_limited(office):
    assert [get("203.0.113.2").status_code for _ in range(3)] == [200, 200, 429]


def test_ipv6_networks_are_matched(office):
    assert all(get("2001:db8:1::5").status_code == 200 for _ in range(4))
    assert [get("2001:db9::5").status_code for _ in range(3)] == [200, 200, 429]


def test_the_real_client_behind_a_trusted_proxy_is_matched_not_the_proxy(office):
    inside = {"HTTP_X_FORWARDED_FOR": "10.9.9.9"}
    assert all(get(PROXY, **inside).status_code == 200 for _ in range(4))
    outside = {"HTTP_X_FORWARDED_FOR": "203.0.113.3"}
    assert [get(PROXY, **outside).status_code for _ in range(3)] == [200, 200, 429]


def test_a_client_cannot_claim_an_office_address_through_an_untrusted_header(office):
    spoofed = {"HTTP_X_FORWARDED_FOR": "10.0.0.1"}
    assert [get("203.0.113.4", **spoofed).status_code for _ in range(3)] == [200, 200, 429]


def test_skip_if_exempts_the_health_checker(office):
    health = {"HTTP_USER_AGENT": "HealthChecker/1.0"}
    assert all(get("203.0.113.5", **health).status_code == 200 for _ in range(5))
    assert [get("203.0.113.5").status_code for _ in range(3)] == [200, 200, 429]


def test_a_raising_skip_if_applies_the_policy_and_is_logged_once(settings, redis, caplog):
    settings.RATELIMIT_GUARD = guard(
        office={
            "rate": "2/m",
            "key": "ip",
            "skip_if": "tests.support.capability_settings.broken_skip_if",
        }
    )
    with caplog.at_level("ERROR", logger="django_ratelimit_guard"):
        statuses = [get("203.0.113.6").status_code for _ in range(5)]
    assert statuses == [200, 200, 429, 429, 429]
    assert len([r for r in caplog.records if "skip_if raised" in r.getMessage()]) == 1


async def test_async_views_honour_exemptions(settings, redis):
    # The async test client always connects from 127.0.0.1: trust it as a proxy.
    settings.RATELIMIT_GUARD = {**guard(), "CLIENT_IP": {"TRUSTED_PROXIES": ["127.0.0.1/32"]}}
    client = AsyncClient()

    async def get_from(ip: str):  # type: ignore[no-untyped-def]
        return await client.get("/async-office/", headers={"X-Forwarded-For": ip})

    for _ in range(4):
        response = await get_from("10.0.0.7")
        assert response.status_code == 200 and "RateLimit" not in response
    assert [(await get_from("203.0.113.8")).status_code for _ in range(3)] == [200, 200, 429]


def test_inline_skip_if_takes_a_callable(settings, redis):
    from django_ratelimit_guard import check
    from django_ratelimit_guard.engine import registry

    registry.declare_inline(
        "inline-skip", {"rate": "1/m", "key": "ip", "skip_if": lambda r: "skip" in r.GET}
    )
    skipped = RequestFactory().get("/x/?skip=1", REMOTE_ADDR="203.0.113.9")
    assert [check(skipped, "inline-skip").decisions for _ in range(3)] == [(), (), ()]
    counted = RequestFactory().get("/x/", REMOTE_ADDR="203.0.113.9")
    assert [check(counted, "inline-skip").allowed for _ in range(2)] == [True, False]
