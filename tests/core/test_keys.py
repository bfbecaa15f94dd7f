"""Who is the client: the IP behind trusted proxies, hashed key values, and each key form end to
end through check() on a real redis-server."""

from __future__ import annotations

import ipaddress

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from django_ratelimit_guard import check
from django_ratelimit_guard.core.keys import (
    UNKNOWN_IP,
    ClientIPSettings,
    client_ip,
    hash_key_value,
    parse_ip,
)
from tests.support.builders import FakeUser, one_policy

rf = RequestFactory()
PROXIES = ClientIPSettings(
    trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
)


def ip_of(remote, forwarded=None, config=PROXIES):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(rf.get("/", **meta), config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("1.2.3.4:8080", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("fe80::1%eth0", "fe80::1"),
        ("", None),
        ("garbage", None),
        ("1.2.3.4.5", None),
        ("[::1", None),
        ("1.2.3.4, 5.6.7.8", None),
    ],
)
def test_parse_ip(text, expected):
    parsed = parse_ip(text)
    assert (str(parsed) if parsed else None) == expected


def test_untrusted_peer_cannot_choose_its_bucket_with_x_forwarded_for():
    assert ip_of("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_trusted_proxy_chain_is_walked_right_to_left_to_the_first_untrusted_hop():
    assert ip_of("10.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.2") == "203.0.113.7"


def test_a_client_spoofing_the_leftmost_entry_behind_a_proxy_is_still_its_real_address():
    # The client sent "X-Forwarded-For: 1.1.1.1"; our proxy appended the real peer.
    assert ip_of("10.0.0.1", "1.1.1.1, 203.0.113.7") == "203.0.113.7"


def test_malformed_hop_before_the_client_counts_in_the_unknown_ip_bucket():
    # Not the last trusted hop's own bucket (shared with every request without a header):
    # the documented unknown-ip bucket, as under uvicorn's proxy-header handling (issue #16.3).
    assert ip_of("10.0.0.1", "203.0.113.7, garbage, 10.0.0.3") == UNKNOWN_IP
    assert ip_of("10.0.0.1", "garbage") == UNKNOWN_IP
    # Left of the client, garbage is never read.
    assert ip_of("10.0.0.1", "garbage, 203.0.113.7, 10.0.0.3") == "203.0.113.7"


def test_empty_forwarded_header_from_a_trusted_proxy_counts_the_proxy():
    assert ip_of("10.0.0.1", "") == "10.0.0.1"


def test_ipv6_clients_are_grouped_by_prefix():
    assert ip_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ip_of("2001:db8:1:2:ffff::1") == ip_of("2001:db8:1:2:3:4:5:6")


def test_ipv4_mapped_ipv6_counts_as_the_ipv4_client():
    assert ip_of("::ffff:203.0.113.5") == "203.0.113.5"


@pytest.mark.parametrize("remote", ["", "unknown", "   ", "999.1.1.1", None])
def test_empty_or_garbage_remote_addr_goes_to_the_dedicated_bucket(remote, caplog):
    request = rf.get("/")
    request.META["REMOTE_ADDR"] = remote
    assert client_ip(request, PROXIES) == UNKNOWN_IP
    assert "REMOTE_ADDR" in caplog.text


header_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFF), max_size=200)


@given(forwarded=header_text)
def test_any_forwarded_header_from_an_untrusted_peer_never_changes_the_bucket(forwarded):
    assert ip_of("203.0.113.9", forwarded) == "203.0.113.9"


@given(forwarded=header_text, remote=header_text)
def test_no_header_or_remote_addr_crashes_the_ip_key(forwarded, remote):
    result = ip_of(remote, forwarded)
    assert result == UNKNOWN_IP or ipaddress.ip_network(result, strict=False)


@given(st.text(max_size=100), st.text(max_size=100))
def test_hashed_key_values_are_fixed_length_hex_and_distinct(a, b):
    ha, hb = hash_key_value(a, b"k" * 32), hash_key_value(b, b"k" * 32)
    assert len(ha) == 24
    assert int(ha, 16) >= 0
    assert (ha == hb) == (a == b)


def test_hashing_is_keyed_so_redis_holds_no_guessable_digest():
    assert hash_key_value("1.2.3.4", b"a" * 32) != hash_key_value("1.2.3.4", b"b" * 32)


def test_huge_forwarded_headers_are_not_pinned_in_the_address_cache():
    from django_ratelimit_guard.core import keys

    keys._bucket.cache_clear()
    chain = ", ".join(f"198.51.100.{i % 250}" for i in range(200)) + ", 203.0.113.7"
    assert ip_of("10.0.0.1", chain) == "203.0.113.7"
    assert keys._bucket.cache_info().currsize == 0
    assert ip_of("10.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert keys._bucket.cache_info().currsize == 1


def with_user(request, user):
    request.user = user
    return request


def test_user_key_counts_per_user_and_skips_anonymous(redis, settings):
    one_policy(settings, key="user")
    assert check(with_user(rf.get("/"), FakeUser(1)), "p").allowed
    assert not check(with_user(rf.get("/"), FakeUser(1)), "p").allowed
    assert check(with_user(rf.get("/"), FakeUser(2)), "p").allowed
    anonymous = check(with_user(rf.get("/"), AnonymousUser()), "p")
    assert anonymous.allowed and anonymous.decisions == ()


def test_user_or_ip_separates_a_user_from_their_address(redis, settings):
    one_policy(settings, key="user_or_ip")
    assert check(with_user(rf.get("/", REMOTE_ADDR="198.51.100.3"), FakeUser(7)), "p").allowed
    assert check(with_user(rf.get("/", REMOTE_ADDR="198.51.100.3"), AnonymousUser()), "p").allowed
    assert not check(with_user(rf.get("/", REMOTE_ADDR="198.51.100.9"), FakeUser(7)), "p").allowed


def test_header_key_counts_per_value_and_a_missing_header_is_one_shared_bucket(redis, settings):
    one_policy(settings, key="header:X-Api-Key")
    assert check(rf.get("/", HTTP_X_API_KEY="a"), "p").allowed
    assert not check(rf.get("/", HTTP_X_API_KEY="a"), "p").allowed
    assert check(rf.get("/", HTTP_X_API_KEY="b"), "p").allowed
    assert check(rf.get("/"), "p").allowed
    assert not check(
        rf.get("/", REMOTE_ADDR="198.51.100.200"), "p"
    ).allowed  # omitting it is no way out


def test_param_key_reads_get_then_post(redis, settings):
    one_policy(settings, key="param:username")
    assert check(rf.get("/?username=ann"), "p").allowed
    assert not check(rf.post("/", {"username": "ann"}), "p").allowed
    assert check(rf.post("/", {"username": "bob"}), "p").allowed


def test_api_key_key_uses_the_verified_key_id(redis, settings):
    one_policy(settings, key="api_key")
    request = rf.get("/")
    assert (
        check(request, "p").decisions == ()
    )  # unsigned: skipped (the signing middleware rejects it)
    request.api_key_id = "partner-1"
    assert check(request, "p").allowed and not check(request, "p").allowed


def test_callable_and_dotted_path_keys(redis, settings):
    one_policy(settings, key="tests.support.callables.tenant_key")
    assert check(rf.get("/", HTTP_X_TENANT="acme"), "p").allowed
    assert not check(rf.get("/", HTTP_X_TENANT="acme"), "p").allowed
    assert check(rf.get("/"), "p").decisions == ()  # the callable returned None: skipped
