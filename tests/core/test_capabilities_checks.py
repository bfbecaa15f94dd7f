"""Every bad value of the issue #15 policy fields is a check error naming the fix, reported by
``manage.py check``, at startup (ConfigError) and by an inline ``@rate_limit(...)``."""

from __future__ import annotations

import pytest

from django_ratelimit_guard import rate_limit
from django_ratelimit_guard.conf.settings import build_settings
from django_ratelimit_guard.core.exceptions import ConfigError
from django_ratelimit_guard.core.keys import ClientIPSettings
from django_ratelimit_guard.core.policies import FailMode, build_policy
from django_ratelimit_guard.edge.checks import check_settings


def problems(**fields: object) -> list[tuple[str, str]]:
    policy, found = build_policy(
        "p", fields, default_fail_mode=FailMode.MEMORY, client_ip=ClientIPSettings
    )
    assert (policy is None) == bool(found)
    return [(p.id.rsplit(".", 1)[1], p.msg) for p in found]


@pytest.mark.parametrize(
    ("fields", "check_id", "words"),
    [
        ({"rate": "5/m", "exempt_ips": "10.0.0.0/8"}, "E110", "list of CIDRs"),
        ({"rate": "5/m", "exempt_ips": ["10.0.0.0/8", "office"]}, "E110", "'office'"),
        ({"rate": "5/m", "skip_if": "no.such.module"}, "E111", "could not be imported"),
        ({"rate": "5/m", "skip_if": 3}, "E111", "expected a callable"),
        ({"rate": "5/m", "skip_if": "django.conf.settings"}, "E111", "not callable"),
        ({"rate": "5/m", "count_when": []}, "E112", "status codes"),
        ({"rate": "5/m", "count_when": [401, 700]}, "E112", "status codes"),
        ({"rate": "5/m", "count_when": [True]}, "E112", "status codes"),
        ({"concurrency": 0}, "E113", "1 to"),
        ({"concurrency": "3"}, "E113", "expected an int"),
        ({"rate": "5/m", "concurrency": 2}, "E114", "both 'rate' and 'concurrency'"),
        ({"concurrency": 2, "concurrency_timeout": 0}, "E115", "1 to 86400"),
        ({"rate": "5/m", "concurrency_timeout": 30}, "E115", "without 'concurrency'"),
        ({"concurrency": 2, "algorithm": "token_bucket"}, "E116", "'algorithm'"),
        ({"concurrency": 2, "count_when": [401]}, "E116", "'count_when'"),
        ({}, "E002", "no 'rate'"),
    ],
)
def test_bad_capability_fields_are_errors_that_name_the_fix(fields, check_id, words):
    found = problems(**fields)
    assert any(i == check_id and words in msg for i, msg in found), found


def test_good_capability_fields_build_a_policy():
    policy, found = build_policy(
        "p",
        {
            "rate": "5/m",
            "exempt_ips": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"],
            "skip_if": "tests.support.capability_settings.is_health_check",
            "count_when": [401, 403],
        },
        default_fail_mode=FailMode.MEMORY,
        client_ip=ClientIPSettings,
    )
    assert found == [] and policy is not None
    assert policy.screened and policy.staged and policy.count_when == frozenset({401, 403})
    slots, _ = build_policy(
        "s",
        {"concurrency": 3},
        default_fail_mode=FailMode.MEMORY,
        client_ip=ClientIPSettings,
    )
    assert slots is not None and slots.concurrency == 3 and slots.concurrency_timeout == 60
    assert slots.rate_text == "3 in flight"


def test_a_plain_policy_is_neither_screened_nor_staged():
    policy, _ = build_policy(
        "p", {"rate": "5/m"}, default_fail_mode=FailMode.MEMORY, client_ip=ClientIPSettings
    )
    assert policy is not None and not policy.screened and not policy.staged


def test_manage_py_check_reports_every_bad_field_at_once(settings):
    settings.RATELIMIT_GUARD = {
        "CACHE_ALIAS": "ratelimit",
        "POLICIES": {
            "a": {"rate": "5/m", "exempt_ips": ["nope"]},
            "b": {"rate": "5/m", "concurrency": 1},
        },
    }
    ids = {m.id for m in check_settings(None)}
    assert {"ratelimit_guard.E110", "ratelimit_guard.E114"} <= ids


def test_startup_fails_on_a_bad_field():
    built, found = build_settings(
        {"CACHE_ALIAS": "ratelimit", "POLICIES": {"x": {"concurrency": -1}}}
    )
    assert built is None and [p.id for p in found] == ["ratelimit_guard.E113"]


def test_an_inline_policy_with_a_bad_field_fails_at_decoration():
    with pytest.raises(ConfigError, match="E112"):
        rate_limit(rate="5/m", count_when="401")(lambda request: None)
