"""The admin status page and its actions (fleet commands among them), against a real
redis-server."""

from __future__ import annotations

import os

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse

from django_ratelimit_guard.core.keys import hash_key_value
from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.models import BreakerCommand
from django_ratelimit_guard.ops import fleet
from django_ratelimit_guard.stores.fallback import fallback_store
from tests.support.admin import STATUS, action_url, staff
from tests.support.builders import breaker_state, hit, unreachable_cache

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_tracker")]


def test_status_url_name_resolves_under_the_admin():
    assert reverse(STATUS) == "/admin/django_ratelimit_guard/status/"


def test_anonymous_user_is_redirected_to_the_admin_login(client, redis):
    response = client.get(reverse(STATUS))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_view_status_gets_403(client, redis):
    client.force_login(staff("plain"))
    assert client.get(reverse(STATUS)).status_code == 403


def test_page_is_listed_in_the_admin_index_for_viewers(viewer, redis):
    response = viewer.get(reverse("admin:index"))
    assert reverse(STATUS).encode() in response.content


def test_page_is_not_listed_for_staff_without_the_permission(client, redis):
    client.force_login(staff("plain"))
    assert reverse(STATUS).encode() not in client.get(reverse("admin:index")).content


def test_page_shows_host_process_redis_facts_and_every_policy(viewer, redis):
    import os

    response = viewer.get(reverse(STATUS))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"process <strong>{os.getpid()}</strong>" in html
    assert "reachable</span>" in html
    assert "unreachable" not in html
    assert "Server version</th><td>7." in html
    for name in ("login", "api", "burst"):
        assert f"<td>{name}</td>" in html
    assert "token_bucket" in html
    assert "closed" in html


def test_viewer_sees_no_action_buttons(viewer, redis):
    assert b"Reset client" not in viewer.get(reverse(STATUS)).content


def test_page_says_redis_is_unreachable_when_it_is_down(viewer, settings, redis):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": unreachable_cache(),
    }
    response = viewer.get(reverse(STATUS))
    assert response.status_code == 200
    assert b"unreachable</span>" in response.content
    assert b"Unknown while Redis is unreachable" in response.content


def test_action_without_manage_guard_is_403_and_changes_nothing(viewer, client, redis):
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="198.51.100.1")
    response = viewer.post(
        action_url("reset-client"),
        {"policy": "login", "key_value": "198.51.100.1", "confirm": "yes"},
    )
    assert response.status_code == 403
    assert client.post("/login/", REMOTE_ADDR="198.51.100.1").status_code == 429


def test_get_on_an_action_changes_nothing(operator, client, redis):
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="198.51.100.2")
    response = operator.get(
        action_url("reset-client"),
        {"policy": "login", "key_value": "198.51.100.2", "confirm": "yes"},
    )
    assert response.status_code == 405
    assert client.post("/login/", REMOTE_ADDR="198.51.100.2").status_code == 429
    assert not LogEntry.objects.exists()


def test_action_asks_for_confirmation_before_acting(operator, client, redis):
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="198.51.100.3")
    response = operator.post(
        action_url("reset-client"), {"policy": "login", "key_value": "198.51.100.3"}
    )
    assert response.status_code == 200
    assert b'name="confirm" value="yes"' in response.content
    assert client.post("/login/", REMOTE_ADDR="198.51.100.3").status_code == 429


def test_confirmed_reset_client_unblocks_it_and_is_logged(operator, client, redis):
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="198.51.100.4")
    response = operator.post(
        action_url("reset-client"),
        {"policy": "login", "key_value": "198.51.100.4", "confirm": "yes"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse(STATUS)
    assert client.post("/login/", REMOTE_ADDR="198.51.100.4").status_code == 200
    entry = LogEntry.objects.get()
    assert entry.user.username == "operator"
    assert "login" in entry.change_message
    assert "198.51.100.4" not in entry.change_message + entry.object_repr  # stored hashed


def test_reset_client_by_digest_from_the_most_limited_list(operator, client, redis):
    from django_ratelimit_guard.conf.settings import guard_settings

    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="198.51.100.5")
    digest = hash_key_value("198.51.100.5", guard_settings().key_secret)
    operator.post(
        action_url("reset-client"), {"policy": "login", "digest": digest, "confirm": "yes"}
    )
    assert client.post("/login/", REMOTE_ADDR="198.51.100.5").status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"policy": "nope", "key_value": "1.2.3.4"}, "There is no policy"),
        ({"policy": "login", "key_value": ""}, "The key value must be"),
        ({"policy": "login", "digest": "../etc"}, "24 lowercase hexadecimal"),
    ],
)
def test_bad_action_input_is_a_message_not_an_error(operator, redis, fields, message):
    response = operator.post(action_url("reset-client"), {**fields, "confirm": "yes"}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LogEntry.objects.exists()


def test_unknown_action_is_404(operator, redis):
    assert operator.post(action_url("explode"), {"confirm": "yes"}).status_code == 404


def test_actions_are_csrf_protected(redis):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(staff("op2", "view_status", "manage_guard"))
    assert csrf_client.post(action_url("clear-fallback"), {"confirm": "yes"}).status_code == 403


def test_force_open_then_reset_breaker_from_the_page(operator, redis):

    response = operator.post(
        action_url("force-open"), {"scope": "ratelimit", "reason": "upgrade", "confirm": "yes"}
    )
    assert response.status_code == 302
    assert get_breaker("ratelimit").state.value == "open"
    html = operator.get(reverse(STATUS)).content.decode()
    assert 'data-state="open"' in html
    assert "(forced)" in html
    assert "forced open: upgrade" in html  # the persisted transition is listed
    operator.post(action_url("reset-breaker"), {"scope": "ratelimit", "confirm": "yes"})
    assert get_breaker("ratelimit").state.value == "closed"
    assert LogEntry.objects.count() == 2


def test_unknown_breaker_scope_is_reported(operator, redis):
    response = operator.post(
        action_url("reset-breaker"), {"scope": "nope", "confirm": "yes"}, follow=True
    )
    assert "No circuit breaker has the scope" in response.content.decode()


def test_clear_fallback_store_empties_it(operator, redis):

    fallback_store().hit_many([hit("k1", limit=5)])
    assert fallback_store().entries == 1
    html = operator.get(reverse(STATUS)).content.decode()
    assert "1 / 50000 entries" in html
    operator.post(action_url("clear-fallback"), {"confirm": "yes"})
    assert fallback_store().entries == 0


def test_page_is_served_without_redis_while_the_breaker_is_open(viewer, client, settings, redis):

    redis.stop()
    try:
        for _ in range(6):
            client.get("/api/items/")  # fail_mode memory: served from the fallback store
        assert get_breaker("ratelimit").state.value == "open"
        html = viewer.get(reverse(STATUS)).content.decode()
        assert 'data-state="open"' in html
        assert "unreachable</span>" in html
    finally:
        redis.start()


@pytest.mark.django_db
def test_force_open_from_the_page_is_a_fleet_command_shown_as_standing(client, redis):
    client.force_login(staff("alice", "view_status", "manage_guard"))
    confirm = client.post(action_url("force-open"), {"scope": "ratelimit", "reason": "upgrade"})
    assert "every worker process on every host" in confirm.content.decode()
    assert not BreakerCommand.objects.exists()  # not before confirmation
    client.post(
        action_url("force-open"), {"scope": "ratelimit", "reason": "upgrade", "confirm": "yes"}
    )
    command = BreakerCommand.objects.get()
    assert (command.action, command.scope, command.reason, command.created_by) == (
        "force_open",
        "ratelimit",
        "upgrade",
        "alice",
    )
    html = client.get(reverse(STATUS)).content.decode()
    assert "forced open since" in html and "by alice: upgrade" in html
    assert f"process <strong>{os.getpid()}</strong>" in html
    client.post(action_url("reset-breaker"), {"scope": "*", "confirm": "yes"})
    assert breaker_state() == "closed"
    assert "No standing force-open" in client.get(reverse(STATUS)).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["force-open", "reset-breaker", "clear-fallback"])
def test_fleet_actions_keep_their_permissions(client, redis, action):
    fields = {"scope": "ratelimit", "reason": "x", "confirm": "yes"}
    anonymous = client.post(action_url(action), fields)
    assert anonymous.status_code == 302 and reverse("admin:login") in anonymous["Location"]
    client.force_login(staff("viewer", "view_status"))
    assert client.post(action_url(action), fields).status_code == 403
    client.force_login(staff("operator", "view_status", "manage_guard"))
    assert client.get(action_url(action), fields).status_code == 405
    assert not BreakerCommand.objects.exists()
    assert breaker_state() == "closed"


@pytest.mark.django_db
def test_commands_are_listed_read_only_in_the_admin(client, redis):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    fleet.issue("force_open", "ratelimit", "upgrade", "alice")
    listing = client.get(reverse("admin:django_ratelimit_guard_breakercommand_changelist"))
    assert "upgrade" in listing.content.decode()
    assert client.get(reverse("admin:django_ratelimit_guard_breakercommand_add")).status_code == 403
