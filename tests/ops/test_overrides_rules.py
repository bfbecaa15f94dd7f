"""Runtime overrides (issue #15) in one process, against a real redis-server: block, allow and
rate rules, expiry, the client_reset events, the command, the admin and the status page."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_redis import get_redis_connection

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core import bus
from django_ratelimit_guard.engine import overrides as engine_overrides
from django_ratelimit_guard.engine.plan import storage_key
from django_ratelimit_guard.ops import overrides
from django_ratelimit_guard.ops.models import RateLimitOverride

pytestmark = pytest.mark.django_db

IP = "203.0.113.30"


@pytest.fixture
def guard(settings, redis):  # type: ignore[no-untyped-def]
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "CONTROL": {"POLL_SECONDS": 0},
        "POLICIES": {
            "api": {"rate": "2/m", "key": "ip", "paths": ["/api/"]},
            "members": {"rate": "2/m", "key": "user_or_ip", "paths": ["/api/"]},
        },
    }
    engine_overrides.forget()
    yield redis
    engine_overrides.forget()


def get(ip: str = IP):  # type: ignore[no-untyped-def]
    return Client().get("/api/items/", REMOTE_ADDR=ip)


def command(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("ratelimit_guard", "override", *args, stdout=out)
    return out.getvalue()


def test_a_blocked_client_gets_429_until_the_rule_expires_without_a_redis_call(guard):
    overrides.add("api", IP, "block", duration=timedelta(minutes=5), reason="abuse")
    get("203.0.113.99")  # loads the script
    guard.client().config_resetstat()
    response = get()
    assert response.status_code == 429
    assert 290 <= int(response["Retry-After"]) <= 300
    assert response.wsgi_request.rate_limit["api"].source == "override"
    stats = guard.client().info("commandstats")
    assert not any(name.startswith("cmdstat_eval") for name in stats), stats
    assert get("203.0.113.31").status_code == 200  # only that client


def test_a_block_holds_while_redis_is_down(guard):
    overrides.add("api", IP, "block", duration=timedelta(minutes=5))
    guard.stop()
    try:
        assert get().status_code == 429
    finally:
        guard.start()


def test_an_allowed_client_is_exempt_from_the_policy_only(guard):
    overrides.add("api", IP, "allow")
    responses = [get() for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 200, 429, 429, 429]
    # "api" no longer counts this client; "members" (user_or_ip) still does.
    assert [d.policy for d in responses[0].wsgi_request.rate_limit.decisions] == ["members"]


def test_a_rate_rule_gives_the_client_its_own_counter(guard):
    for _ in range(2):
        assert get().status_code == 200
    overrides.add("api", IP, "rate", rate="10/m")
    overrides.add("members", f"ip:{IP}", "rate", rate="10/m")
    statuses = [get().status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]  # a fresh counter of its own at 10/m...
    overrides.remove(RateLimitOverride.objects.get(policy="api").pk)
    overrides.remove(RateLimitOverride.objects.get(policy="members").pk)
    # ...and back on the policy's counter, where it had spent its 2 before the rule.
    assert get().status_code == 429


def test_an_expired_rule_no_longer_applies(guard):
    overrides.add("api", IP, "block", duration=timedelta(seconds=1))
    assert get().status_code == 429
    time.sleep(1.1)
    assert get().status_code == 200


def test_a_changed_rule_publishes_client_reset_for_that_client(guard, subscribe):
    seen: list[tuple[str, str]] = []
    subscribe(bus.client_reset, lambda policy, key: seen.append((policy, key)))
    overrides.add("api", "203.0.113.30:443", "block")
    config = guard_settings()
    expected = ("api", storage_key(config, config.policies["api"], IP))
    assert seen == [expected]
    overrides.add("api", IP, "allow")
    overrides.remove(RateLimitOverride.objects.get().pk)
    assert seen == [expected] * 3
    overrides.sync()  # nothing changed since: nothing published
    assert len(seen) == 3


def test_the_command_adds_lists_and_removes_rules(guard):
    out = command("add", "api", "2001:db8::7", "--block", "--for", "30m", "--reason", "scraper")
    assert "blocked on policy 'api'" in out and "'2001:db8::/64'" in out  # IPV6_PREFIX 64
    command("add", "api", "198.51.100.4", "--rate", "100/m")
    rules = json.loads(command("list", "--json"))
    assert [{k: r[k] for k in ("policy", "key", "action", "rate", "reason")} for r in rules] == [
        {"policy": "api", "key": "198.51.100.4", "action": "rate", "rate": "100/m", "reason": ""},
        {
            "policy": "api",
            "key": "2001:db8::/64",
            "action": "block",
            "rate": None,
            "reason": "scraper",
        },
    ]
    assert rules[1]["expires_at"] is not None and rules[0]["expires_at"] is None
    assert set(rules[0]) == {"id", "policy", "key", "action", "rate", "expires_at", "reason"}
    assert "was removed" in command("remove", str(rules[0]["id"]))
    assert len(json.loads(command("list", "--json"))) == 1


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["add", "nope", IP, "--block"], "There is no policy 'nope'"),
        (["add", "api", "not-an-ip", "--block"], "not an IP address"),
        (["add", "api", IP, "--rate", "5/minute"], "rate is not valid"),
        (["add", "api", IP, "--block", "--for", "soon"], "not a number and a unit"),
        (["remove", "999"], "no override #999"),
    ],
)
def test_bad_command_input_exits_2_with_a_reason(guard, args, words):
    with pytest.raises(CommandError, match=words) as caught:
        command(*args)
    assert caught.value.returncode == 2


def test_the_status_page_and_json_show_the_rules(guard, admin_client):
    overrides.add("api", IP, "block", reason="abuse")
    page = admin_client.get("/admin/django_ratelimit_guard/status/")
    assert b"Runtime overrides" in page.content and IP.encode() in page.content
    from django_ratelimit_guard.ops import status

    snapshot = status.collect().to_json()
    assert snapshot["overrides"][0]["key"] == IP and snapshot["overrides"][0]["known_policy"]


def test_the_admin_adds_a_rule_with_permission_and_logs_it_without_the_key(guard):
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    form = {"policy": "api", "key": " 2001:DB8::1 ", "action": "block", "rate": "", "reason": "x"}
    assert (
        client.post("/admin/django_ratelimit_guard/ratelimitoverride/add/", form).status_code == 403
    )
    staff.user_permissions.add(
        Permission.objects.get(codename="add_ratelimitoverride"),
        Permission.objects.get(codename="view_ratelimitoverride"),
    )
    client.force_login(User.objects.get(pk=staff.pk))
    response = client.post("/admin/django_ratelimit_guard/ratelimitoverride/add/", form)
    assert response.status_code == 302, response.content[:2000]
    rule = RateLimitOverride.objects.get()
    assert rule.key == "2001:db8::/64" and rule.created_by == "ops"
    entry = LogEntry.objects.get()
    assert "2001" not in entry.object_repr and "2001" not in entry.change_message
    assert engine_overrides.current()[0].id == rule.pk  # applied in this process at once
    bad = client.post(
        "/admin/django_ratelimit_guard/ratelimitoverride/add/", {**form, "key": "nope"}
    )
    assert bad.status_code == 200 and b"not an IP address" in bad.content


def test_a_rule_for_a_policy_that_no_longer_exists_is_not_applied(guard, settings):
    overrides.add("members", f"ip:{IP}", "block")
    settings.RATELIMIT_GUARD = {
        **settings.RATELIMIT_GUARD,
        "POLICIES": {"api": {"rate": "2/m", "key": "ip", "paths": ["/api/"]}},
    }
    overrides.sync()
    assert get().status_code == 200


def test_no_rules_cost_nothing_but_a_falsy_check(guard):
    assert engine_overrides.rules == {}
    assert get().status_code == 200
    raw = get_redis_connection("ratelimit")
    assert raw.dbsize() == 2  # the two policies' counters, nothing else


def test_the_status_command_lists_the_rules(guard):
    from io import StringIO

    overrides.add("api", IP, "rate", rate="50/m")
    out = StringIO()
    call_command("ratelimit_guard", "status", stdout=out)
    assert "Override #" in out.getvalue() and f"rate 50/m {IP} on api" in out.getvalue()
