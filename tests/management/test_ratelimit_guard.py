"""``manage.py ratelimit_guard`` against a real redis-server: output and exit codes, and its fleet
commands (force-open, reset-breaker, clear-fallback)."""

from __future__ import annotations

import json
import os
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_ratelimit_guard.engine.breakers import get_breaker
from django_ratelimit_guard.models import BreakerCommand
from django_ratelimit_guard.ops import fleet
from django_ratelimit_guard.stores.fallback import fallback_store
from tests.support.builders import breaker_state, hit, unreachable_cache

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("ratelimit_guard", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": unreachable_cache(),
    }


def test_status_table_lists_redis_and_policies_and_exits_0(redis):
    code, out = run("status")
    assert code == 0
    assert "Redis (ratelimit): reachable" in out
    assert "login" in out
    assert "token_bucket" in out


def test_status_json_is_machine_readable(redis):
    code, out = run("status", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["redis"]["reachable"] is True
    assert data["redis"]["version"].startswith("7.")
    assert {"login", "api", "burst"} <= {p["name"] for p in data["policies"]}
    assert isinstance(data["pid"], int)


def test_status_exits_1_when_redis_is_unreachable(redis_down):
    code, out = run("status", "--json")
    assert code == 1
    assert json.loads(out.split("\n}")[0] + "\n}")["redis"]["reachable"] is False


def test_reset_key_unblocks_a_client(client, redis):
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="192.0.2.10")
    assert client.post("/login/", REMOTE_ADDR="192.0.2.10").status_code == 429
    code, out = run("reset-key", "login", "192.0.2.10")
    assert code == 0, out
    assert client.post("/login/", REMOTE_ADDR="192.0.2.10").status_code == 200


def test_reset_key_with_unknown_policy_exits_2(redis):
    code, out = run("reset-key", "nope", "192.0.2.10")
    assert code == 2
    assert "Known policies: api, " in out


def test_reset_key_exits_1_when_redis_is_unreachable(redis_down):
    code, out = run("reset-key", "login", "192.0.2.10")
    assert code == 1
    assert "but Redis could not be reached" in out


def test_check_redis_reports_rtt_script_and_version(redis):
    code, out = run("check-redis", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["script_loaded"] is True
    assert data["server_version"].startswith("7.")
    assert data["rtt_ms_median"] > 0


def test_check_redis_exits_1_when_unreachable(redis_down):
    code, out = run("check-redis")
    assert code == 1
    assert "connection" in out


def test_missing_subcommand_is_a_usage_error():
    with pytest.raises(CommandError, match="subcommand"):
        call_command("ratelimit_guard")


def test_reset_breaker_closes_a_forced_open_breaker(redis):

    get_breaker("ratelimit").force_open("test")
    code, out = run("reset-breaker", "ratelimit")
    assert code == 0, out
    assert get_breaker("ratelimit").state.value == "closed"


def test_reset_breaker_with_unknown_scope_exits_2(redis):
    code, out = run("reset-breaker", "nope")
    assert code == 2
    assert "Known scopes: ratelimit" in out


@pytest.mark.django_db
def test_command_force_open_and_reset_breaker_are_fleet_wide(redis, capsys):
    call_command(
        "ratelimit_guard", "force-open", "ratelimit", "--reason", "failover", "--by", "ops"
    )
    assert "fleet command #" in capsys.readouterr().out
    assert breaker_state() == "open"
    assert BreakerCommand.objects.get().created_by == "ops"
    call_command("ratelimit_guard", "reset-breaker", "ratelimit")
    assert breaker_state() == "closed"
    assert BreakerCommand.objects.count() == 2
    assert "manage.py" in BreakerCommand.objects.first().created_by


@pytest.mark.django_db
def test_this_process_option_keeps_the_old_behaviour(redis, capsys):
    call_command("ratelimit_guard", "force-open", "ratelimit", "--this-process")
    assert breaker_state() == "open"
    call_command("ratelimit_guard", "reset-breaker", "ratelimit", "--this-process")
    assert breaker_state() == "closed"
    assert "this process only" in capsys.readouterr().out
    assert not BreakerCommand.objects.exists()


@pytest.mark.django_db
def test_command_clear_fallback_empties_the_store(redis):
    fallback_store().hit_many([hit("k", limit=5)])
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
