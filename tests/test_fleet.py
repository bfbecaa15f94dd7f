"""The fleet control channel in one process: command semantics, the poll's cost, pruning, the
admin page and the command. tests/fleet/ proves the same across real worker processes."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from django_ratelimit_guard.conf.settings import build_settings
from django_ratelimit_guard.core.algorithms import Algorithm, Hit
from django_ratelimit_guard.engine.breakers import forget_breakers, get_breaker
from django_ratelimit_guard.models import BreakerCommand
from django_ratelimit_guard.ops import fleet, fleet_poll
from django_ratelimit_guard.stores.memory import fallback_store

STATUS = "admin:django_ratelimit_guard_status"


def action_url(action: str) -> str:
    return reverse("admin:django_ratelimit_guard_status_action", args=[action])


def state(scope: str = "ratelimit") -> str:
    return get_breaker(scope).state.value


def new_process() -> None:
    """What a freshly started worker knows: no breakers, no applied command."""
    forget_breakers()
    fleet.forget()


@pytest.mark.parametrize(
    ("command_scope", "scope", "expected"),
    [
        ("*", "ratelimit", True),
        ("ratelimit", "ratelimit", True),
        ("ratelimit", "ratelimit/10.0.0.1:7000", True),  # a Cluster shard of the alias
        ("ratelimit", "ratelimit2", False),
        ("ratelimit/10.0.0.1:7000", "ratelimit", False),
        ("other", "ratelimit", False),
    ],
)
def test_a_command_covers_its_scope_the_shards_of_an_alias_and_star_covers_all(
    command_scope, scope, expected
):
    assert fleet.covers(command_scope, scope) is expected


@pytest.mark.django_db
def test_force_open_all_then_reset_one_scope_leaves_the_others_forced():
    fleet.issue("force_open", "*", "maintenance", "alice")
    assert state("ratelimit") == "open"
    fleet.issue("reset", "ratelimit", "", "alice")
    assert state("ratelimit") == "closed"
    assert state("other") == "open"  # created later: still under the standing "*"
    assert state("ratelimit/10.0.0.1:7000") == "closed"  # its alias was reset after the "*"
    assert [c.scope for c in fleet.standing()] == ["*"]


@pytest.mark.django_db
def test_a_new_process_obeys_a_standing_force_open_but_skips_an_old_clear():
    fleet.issue("force_open", "ratelimit", "upgrade", "alice")
    fleet.issue("clear_fallback", "*", "", "alice")
    new_process()
    fallback_store().hit_many([Hit("k", Algorithm.FIXED_WINDOW, 5, 60_000, 1, True)])
    assert state() == "closed"  # nothing read yet
    assert fleet.sync()
    assert state() == "open"
    assert get_breaker("ratelimit").snapshot().forced
    assert fallback_store().entries == 1  # the clear predates this process
    fleet.issue("reset", "ratelimit", "", "bob")
    assert state() == "closed"


@pytest.mark.django_db
def test_a_command_committed_late_with_a_lower_id_is_still_applied_once_and_in_order():
    now = timezone.now()
    newer = BreakerCommand.objects.create(
        id=100, scope="ratelimit", action="force_open", created_at=now
    )
    assert fleet.sync()
    assert state() == "open"
    # Another issuer's transaction got its ids first but committed after we read `newer`.
    BreakerCommand.objects.create(
        id=newer.id - 2, scope="ratelimit", action="reset", created_at=now
    )
    BreakerCommand.objects.create(
        id=newer.id - 1, scope="*", action="clear_fallback", created_at=now
    )
    fallback_store().hit_many([Hit("k", Algorithm.FIXED_WINDOW, 5, 60_000, 1, True)])
    assert fleet.sync()
    assert fallback_store().entries == 0  # the late clear was applied
    assert state() == "open"  # the late reset is older than the force-open: it does not win
    fallback_store().hit_many([Hit("k", Algorithm.FIXED_WINDOW, 5, 60_000, 1, True)])
    assert fleet.sync()
    assert fallback_store().entries == 1  # applied once only


@pytest.mark.django_db
def test_pruning_bounds_the_history_but_keeps_each_scopes_newest_force_or_reset():
    kept = fleet.issue("force_open", "ratelimit", "long maintenance", "alice")
    for _ in range(15):
        fleet.issue("clear_fallback", "*", "", "bob")
    fleet.prune(keep=10)
    assert BreakerCommand.objects.count() == 11
    assert BreakerCommand.objects.filter(id=kept.id).exists()
    new_process()
    fleet.sync()
    assert state() == "open"


@pytest.mark.django_db
def test_a_database_failure_is_reported_and_keeps_the_current_state(monkeypatch, caplog):
    from django.db import OperationalError

    fleet.issue("force_open", "ratelimit", "", "alice")

    def fail(floor: int) -> list[fleet.Command]:
        raise OperationalError("database is down")

    monkeypatch.setattr(fleet, "_read", fail)
    assert fleet.sync() is False
    assert fleet.sync() is False
    assert state() == "open"
    assert fleet.last_error() == "OperationalError: database is down"
    assert sum("could not be read" in r.getMessage() for r in caplog.records) == 1  # rate-limited


def test_poll_is_a_clock_compare_and_wakes_the_poller_once_per_interval(settings, monkeypatch):
    monkeypatch.delenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS")  # conftest turns polling off
    monkeypatch.setattr(fleet_poll, "_thread", None)
    settings.RATELIMIT_GUARD = {**settings.RATELIMIT_GUARD, "CONTROL": {"POLL_SECONDS": 5}}
    now = [100.0]
    starts: list[int] = []
    monkeypatch.setattr(fleet_poll, "_clock", lambda: now[0])
    monkeypatch.setattr(fleet_poll, "_start", lambda: starts.append(1))
    monkeypatch.setattr(fleet_poll, "_wake", wake := __import__("threading").Event())
    fleet_poll.poll()
    assert wake.is_set() and len(starts) == 1
    wake.clear()
    now[0] = 104.9
    fleet_poll.poll()
    assert not wake.is_set()
    now[0] = 105.0
    fleet_poll.poll()
    assert wake.is_set()


def test_poll_starts_no_thread_when_polling_is_disabled(monkeypatch):
    assert os.environ["RATELIMIT_GUARD_CONTROL_POLL_SECONDS"] == "0"
    starts: list[int] = []
    monkeypatch.setattr(fleet_poll, "_start", lambda: starts.append(1))
    fleet_poll.poll()
    fleet_poll.poll()
    assert starts == []


def test_a_forked_child_forgets_the_parents_thread_and_polls_at_first_use():
    fleet_poll._thread_pid = os.getpid() + 1  # as if inherited from a parent
    fleet_poll._after_fork_in_child()
    assert fleet_poll._thread is None
    assert fleet_poll._next_poll == 0.0


@pytest.mark.parametrize(
    ("control", "message"),
    [
        ({"POLL_SECONDS": -1}, "expected 0 to 300"),
        ({"POLL_SECONDS": "2"}, "expected float"),
        ({"KEEP_COMMANDS": 1}, "expected 10 to 100000"),
        ({"EVERY": 1}, "unknown key 'EVERY'"),
        ("fast", "must be a dict"),
    ],
)
def test_bad_control_settings_are_check_error_e081(settings, monkeypatch, control, message):
    monkeypatch.delenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS")  # it would win over the dict
    built, problems = build_settings({**settings.RATELIMIT_GUARD, "CONTROL": control})
    assert built is None
    assert [p.id for p in problems] == ["ratelimit_guard.E081"]
    assert message in problems[0].msg


def test_a_poll_interval_from_the_environment_wins_over_the_dict(settings, monkeypatch):
    monkeypatch.setenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "0.25")
    built, _ = build_settings({**settings.RATELIMIT_GUARD, "CONTROL": {"POLL_SECONDS": 5}})
    assert built is not None and built.control.poll_seconds == 0.25


def test_malformed_poll_environment_variable_is_e081(settings, monkeypatch):
    monkeypatch.setenv("RATELIMIT_GUARD_CONTROL_POLL_SECONDS", "soon")
    _, problems = build_settings(settings.RATELIMIT_GUARD)
    assert any(
        p.id == "ratelimit_guard.E081" and "RATELIMIT_GUARD_CONTROL_POLL_SECONDS" in p.msg
        for p in problems
    )


# -- the admin page --------------------------------------------------------------------------


def staff(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(
                codename=codename, content_type__app_label="django_ratelimit_guard"
            )
        )
    return user


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
    assert state() == "closed"
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
    assert state() == "closed"


@pytest.mark.django_db
def test_commands_are_listed_read_only_in_the_admin(client, redis):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    fleet.issue("force_open", "ratelimit", "upgrade", "alice")
    listing = client.get(reverse("admin:django_ratelimit_guard_breakercommand_changelist"))
    assert "upgrade" in listing.content.decode()
    assert client.get(reverse("admin:django_ratelimit_guard_breakercommand_add")).status_code == 403


# -- manage.py ratelimit_guard ---------------------------------------------------------------


@pytest.mark.django_db
def test_command_force_open_and_reset_breaker_are_fleet_wide(redis, capsys):
    call_command(
        "ratelimit_guard", "force-open", "ratelimit", "--reason", "failover", "--by", "ops"
    )
    assert "fleet command #" in capsys.readouterr().out
    assert state() == "open"
    assert BreakerCommand.objects.get().created_by == "ops"
    call_command("ratelimit_guard", "reset-breaker", "ratelimit")
    assert state() == "closed"
    assert BreakerCommand.objects.count() == 2
    assert "manage.py" in BreakerCommand.objects.first().created_by


@pytest.mark.django_db
def test_this_process_option_keeps_the_old_behaviour(redis, capsys):
    call_command("ratelimit_guard", "force-open", "ratelimit", "--this-process")
    assert state() == "open"
    call_command("ratelimit_guard", "reset-breaker", "ratelimit", "--this-process")
    assert state() == "closed"
    assert "this process only" in capsys.readouterr().out
    assert not BreakerCommand.objects.exists()


@pytest.mark.django_db
def test_command_clear_fallback_empties_the_store(redis):
    fallback_store().hit_many([Hit("k", Algorithm.FIXED_WINDOW, 5, 60_000, 1, True)])
    call_command("ratelimit_guard", "clear-fallback")
    assert fallback_store().entries == 0
    assert BreakerCommand.objects.get().action == "clear_fallback"


@pytest.mark.django_db
def test_command_with_an_unknown_scope_exits_2_and_records_nothing(redis):
    with pytest.raises(CommandError) as info:
        call_command("ratelimit_guard", "force-open", "nope")
    assert info.value.returncode == 2
    assert not BreakerCommand.objects.exists()


@pytest.mark.django_db
def test_status_json_lists_standing_commands(redis, capsys):
    fleet.issue("force_open", "ratelimit", "upgrade", "alice")
    with pytest.raises(CommandError):
        call_command("ratelimit_guard", "status", "--json")  # exit 1: the breaker is open
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["fleet"]["standing"][0]["description"].endswith("by alice: upgrade")
    assert data["breakers"][0]["fleet"].startswith("forced open since")
    assert data["pid"] == os.getpid()


def test_describe_says_since_when_by_whom_and_why():
    created = timezone.now().replace(hour=5, minute=12, second=7) - timedelta(0)
    command = fleet.Command(1, "ratelimit", "force_open", "maintenance", created, "alice")
    assert command.describe() == "forced open since 05:12:07 UTC by alice: maintenance"
