"""``reset-key`` validates the key value for the policy's key kind and says which digest it
cleared (issue #13 item 9)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from django_ratelimit_guard import check
from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.keys import hash_key_value

rf = RequestFactory()

# A reset reaches every worker as a fleet command (issue #14): it is recorded in the database.
pytestmark = pytest.mark.django_db


def reset_key(*args: str) -> str:
    out = StringIO()
    call_command("ratelimit_guard", "reset-key", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("value", ["not-an-ip", "203.0.113.0/24", " ", "1.2.3.4.5"])
def test_a_malformed_address_for_an_ip_policy_exits_2_and_resets_nothing(redis, value):
    with pytest.raises(CommandError, match="keys on 'ip'") as caught:
        reset_key("login", value)
    assert caught.value.returncode == 2


def test_the_reset_names_the_digest_it_cleared_and_really_clears_it(redis):
    request = rf.post("/login/", REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        check(request, "login")
    assert not check(request, "login").allowed
    out = reset_key("login", " 203.0.113.7:5555 ")
    digest = hash_key_value("203.0.113.7", guard_settings().key_secret)
    assert f"client {digest}" in out
    assert check(request, "login").allowed


def test_an_ipv6_address_resets_its_clients_prefix_bucket(settings, redis):
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": {"v6": {"rate": "1/m", "key": "ip"}},
    }
    request = rf.get("/", REMOTE_ADDR="2001:db8::9")
    assert check(request, "v6").allowed and not check(request, "v6").allowed
    reset_key("v6", "2001:db8::5")  # another address in the same /64
    assert check(request, "v6").allowed


def test_a_user_or_ip_key_must_say_which(settings, redis):
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": {"mixed": {"rate": "1/m", "key": "user_or_ip"}},
    }
    with pytest.raises(CommandError, match="'user:<id>'"):
        reset_key("mixed", "42")
    assert "was reset" in reset_key("mixed", "user:42")
