"""``manage.py ratelimit_guard`` against a real redis-server: output and exit codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.support.builders import redis_cache
from tests.support.redis_servers import free_port

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
        "ratelimit": redis_cache(f"redis://127.0.0.1:{free_port()}/0"),
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
    from django_ratelimit_guard.engine.breakers import get_breaker

    get_breaker("ratelimit").force_open("test")
    code, out = run("reset-breaker", "ratelimit")
    assert code == 0, out
    assert get_breaker("ratelimit").state.value == "closed"


def test_reset_breaker_with_unknown_scope_exits_2(redis):
    code, out = run("reset-breaker", "nope")
    assert code == 2
    assert "Known scopes: ratelimit" in out
