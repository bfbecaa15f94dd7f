"""The example's own tests: how a project tests its limits with the plugin's fixtures
(``ratelimit_reset``, ``ratelimit_disabled``) and ``override_policies`` (docs/testing.md)."""

import pytest

from django_ratelimit_guard.testing import override_policies

pytestmark = pytest.mark.django_db

WRONG = {"username": "nobody", "password": "wrong"}


def test_the_sixth_failed_signin_is_rejected(client, ratelimit_reset):
    codes = [client.post("/signin/", WRONG).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_each_test_starts_with_fresh_counters(client, ratelimit_reset):
    assert client.post("/signin/", WRONG).status_code == 401


def test_signins_are_not_limited_when_disabled(client, ratelimit_disabled):
    assert all(client.post("/signin/", WRONG).status_code == 401 for _ in range(10))


@override_policies({"failed-signin": {"rate": "1/m", "key": "ip", "count_when": [401]}})
def test_a_tighter_policy_for_one_test(client, ratelimit_reset):
    codes = [client.post("/signin/", WRONG).status_code for _ in range(2)]
    assert codes == [401, 429]


def test_the_health_checker_is_exempt(client, ratelimit_reset):
    for _ in range(15):
        assert client.get("/api/items/", HTTP_USER_AGENT="HealthChecker/2").status_code == 200
