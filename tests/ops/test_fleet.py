"""The fleet control channel in one process: what a command covers, the order commands apply in,
pruning, database failures. tests/system/test_fleet_processes.py proves the same across real
worker processes; the page and the command: tests/test_admin.py,
tests/management/test_ratelimit_guard.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_ratelimit_guard.engine.breakers import forget_breakers, get_breaker
from django_ratelimit_guard.models import BreakerCommand
from django_ratelimit_guard.ops import fleet
from django_ratelimit_guard.stores.fallback import fallback_store
from tests.support.builders import breaker_state, hit


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
    assert breaker_state("ratelimit") == "open"
    fleet.issue("reset", "ratelimit", "", "alice")
    assert breaker_state("ratelimit") == "closed"
    assert breaker_state("other") == "open"  # created later: still under the standing "*"
    assert breaker_state("ratelimit/10.0.0.1:7000") == "closed"  # its alias was reset after the "*"
    assert [c.scope for c in fleet.standing()] == ["*"]


@pytest.mark.django_db
def test_a_new_process_obeys_a_standing_force_open_but_skips_an_old_clear():
    fleet.issue("force_open", "ratelimit", "upgrade", "alice")
    fleet.issue("clear_fallback", "*", "", "alice")
    new_process()
    fallback_store().hit_many([hit("k", limit=5)])
    assert breaker_state() == "closed"  # nothing read yet
    assert fleet.sync()
    assert breaker_state() == "open"
    assert get_breaker("ratelimit").snapshot().forced
    assert fallback_store().entries == 1  # the clear predates this process
    fleet.issue("reset", "ratelimit", "", "bob")
    assert breaker_state() == "closed"


@pytest.mark.django_db
def test_a_command_committed_late_with_a_lower_id_is_still_applied_once_and_in_order():
    now = timezone.now()
    newer = BreakerCommand.objects.create(
        id=100, scope="ratelimit", action="force_open", created_at=now
    )
    assert fleet.sync()
    assert breaker_state() == "open"
    # Another issuer's transaction got its ids first but committed after we read `newer`.
    BreakerCommand.objects.create(
        id=newer.id - 2, scope="ratelimit", action="reset", created_at=now
    )
    BreakerCommand.objects.create(
        id=newer.id - 1, scope="*", action="clear_fallback", created_at=now
    )
    fallback_store().hit_many([hit("k", limit=5)])
    assert fleet.sync()
    assert fallback_store().entries == 0  # the late clear was applied
    assert breaker_state() == "open"  # the late reset is older than the force-open: it does not win
    fallback_store().hit_many([hit("k", limit=5)])
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
    assert breaker_state() == "open"


@pytest.mark.django_db
def test_a_database_failure_is_reported_and_keeps_the_current_state(monkeypatch, caplog):
    from django.db import OperationalError

    fleet.issue("force_open", "ratelimit", "", "alice")

    def fail(floor: int) -> list[fleet.Command]:
        raise OperationalError("database is down")

    monkeypatch.setattr(fleet, "_read", fail)
    assert fleet.sync() is False
    assert fleet.sync() is False
    assert breaker_state() == "open"
    assert fleet.last_error() == "OperationalError: database is down"
    assert sum("could not be read" in r.getMessage() for r in caplog.records) == 1  # rate-limited


# -- the admin page --------------------------------------------------------------------------


# -- manage.py ratelimit_guard ---------------------------------------------------------------


def test_describe_says_since_when_by_whom_and_why():
    created = timezone.now().replace(hour=5, minute=12, second=7) - timedelta(0)
    command = fleet.Command(1, "ratelimit", "force_open", "maintenance", created, "alice")
    assert command.describe() == "forced open since 05:12:07 UTC by alice: maintenance"
