"""Key values typed by an operator are validated for the policy's key kind, and an address
lands in exactly the bucket ``client_ip`` gives that client (issue #13 item 9, issue #15)."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard.core.key_values import normalize_key_value
from django_ratelimit_guard.core.keys import ClientIPSettings, build_key, client_ip

V6_64 = ClientIPSettings(ipv6_prefix=64)


def key(spec: str):  # type: ignore[no-untyped-def]
    return build_key(spec, lambda: V6_64)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("ip", "203.0.113.7", "203.0.113.7"),
        ("ip", " 203.0.113.7 ", "203.0.113.7"),
        ("ip", "203.0.113.7:8080", "203.0.113.7"),
        ("ip", "::ffff:203.0.113.7", "203.0.113.7"),
        ("ip", "2001:db8::1", "2001:db8::/64"),
        ("ip", "[2001:DB8::1]:443", "2001:db8::/64"),
        ("ip", "2001:db8:0:0::/64", "2001:db8::/64"),
        ("ip", "unknown-ip", "unknown-ip"),
        ("user_or_ip", "user:42", "user:42"),
        ("user_or_ip", "ip:203.0.113.7", "ip:203.0.113.7"),
        ("user_or_ip", "2001:db8::9", "ip:2001:db8::/64"),
        ("user", "42", "42"),
        ("api_key", "partner-1", "partner-1"),
        ("header:X-Api-Key", " raw value ", " raw value "),
    ],
)
def test_values_are_normalized_for_their_key_kind(spec, value, expected):
    assert normalize_key_value(key(spec), value, V6_64) == expected


@pytest.mark.parametrize(
    ("spec", "value", "words"),
    [
        ("ip", "not-an-ip", "not an IP address"),
        ("ip", "203.0.113.0/24", "per /32"),
        ("ip", "2001:db8::/48", "per /64"),
        ("ip", "", "empty"),
        ("ip", "1.2.3.4\n", "printable"),
        ("user_or_ip", "42", "'user:<id>'"),
        ("api_key", "a key with spaces", "signing key id"),
        ("user", "x" * 513, "1 to 512"),
    ],
)
def test_malformed_values_are_refused_with_a_reason(spec, value, words):
    with pytest.raises(ValueError, match=words):
        normalize_key_value(key(spec), value, V6_64)


@given(st.ip_addresses())
def test_an_address_lands_in_the_bucket_client_ip_gives_it(address):
    request = RequestFactory().get("/", REMOTE_ADDR=str(address))
    config = ClientIPSettings(ipv4_prefix=24, ipv6_prefix=56)
    assert normalize_key_value(build_key("ip", lambda: config), str(address), config) == (
        client_ip(request, config)
    )
    assert ipaddress.ip_address(str(address))  # the strategy made a real address
