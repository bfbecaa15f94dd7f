"""Rates, IPs, keys and group names as django-ratelimit derives them, and ``is_ratelimited`` /
``get_usage`` against every counter (the ``backend`` fixture)."""

from __future__ import annotations

from functools import partial

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_ratelimit_guard.compat import ALL
from django_ratelimit_guard.compat.core import (
    _get_ip,
    check_key,
    get_usage,
    group_name,
    is_ratelimited,
    split_rate,
)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("100/s", (100, 1)),
        ("100/10s", (100, 10)),
        ("100/10", (100, 10)),
        ("100/m", (100, 60)),
        ("400/10m", (400, 600)),
        ("1000/h", (1000, 3600)),
        ("800/d", (800, 86400)),
        ("0/m", (0, 60)),
        ((5, 30), (5, 30)),
    ],
)
def test_rates_parse_as_django_ratelimit_parses_them(rate, expected):
    assert split_rate(rate) == expected


@pytest.mark.parametrize(
    "rate", ["5/minute", "5/M", "5 /m", "/m", "5", "five/m", "", (5,), ("5", 60), 5]
)
def test_malformed_rates_are_improperly_configured_instead_of_a_prefix_parse(rate):
    with pytest.raises(ImproperlyConfigured):
        split_rate(rate)


@hsettings(max_examples=200)
@given(st.text(max_size=12))
def test_any_rate_text_parses_or_is_improperly_configured(text):
    try:
        count, seconds = split_rate(text)
    except ImproperlyConfigured:
        return
    assert count >= 0
    assert seconds >= 0


@pytest.mark.parametrize("key", ["nope", "foo:bar", 42])
def test_unknown_key_forms_are_improperly_configured(key):
    with pytest.raises(ImproperlyConfigured):
        check_key(key)


def test_default_ip_is_remote_addr(rf):
    request = rf.get("/")
    request.META["REMOTE_ADDR"] = "1.2.3.4"
    assert _get_ip(request) == "1.2.3.4"


def test_empty_remote_addr_is_improperly_configured(rf):
    request = rf.get("/")
    request.META["REMOTE_ADDR"] = ""
    with pytest.raises(ImproperlyConfigured):
        _get_ip(request)


def test_missing_ip_meta_key_is_improperly_configured(rf, settings):
    settings.RATELIMIT_IP_META_KEY = "fake"
    with pytest.raises(ImproperlyConfigured):
        _get_ip(rf.get("/"))


def test_alternate_ip_meta_header(rf, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_CLIENT_IP"
    request = rf.get("/", HTTP_X_CLIENT_IP="5.6.7.8")
    assert _get_ip(request) == "5.6.7.8"


def my_ip(request):
    return request.META["MY_THING"]


@pytest.mark.parametrize("meta_key", [my_ip, "tests.compat.test_core.my_ip"])
def test_ip_meta_key_callable_or_dotted_path(rf, settings, meta_key):
    settings.RATELIMIT_IP_META_KEY = meta_key
    request = rf.get("/")
    request.META["MY_THING"] = "5.6.7.8"
    assert _get_ip(request) == "5.6.7.8"


@pytest.mark.parametrize("garbage", ["not-an-ip", "1.2.3.4, 10.0.0.1", "", "\u00e9"])
def test_unparseable_ip_from_a_header_is_one_bucket_not_a_500(rf, settings, garbage):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_CLIENT_IP"
    assert _get_ip(rf.get("/", HTTP_X_CLIENT_IP=garbage)) == "unknown-ip"


@pytest.mark.parametrize(
    ("setting", "value", "address", "expected"),
    [
        ("RATELIMIT_IPV4_MASK", 16, "10.1.1.1", "10.1.0.0"),
        ("RATELIMIT_IPV4_MASK", 32, "10.1.1.1", "10.1.1.1"),
        ("RATELIMIT_IPV6_MASK", 64, "2001:db8::1000", "2001:db8::"),
        ("RATELIMIT_IPV6_MASK", 128, "2001:db8::1000", "2001:db8::1000"),
    ],
)
def test_ip_masks(rf, settings, setting, value, address, expected):
    setattr(settings, setting, value)
    request = rf.get("/")
    request.META["REMOTE_ADDR"] = address
    assert _get_ip(request) == expected


def module_view(request):
    return None


class Holder:
    def method(self):
        return None


def test_group_of_a_function_is_module_and_qualname():
    assert group_name(module_view) == "tests.compat.test_core.module_view"


def test_group_of_a_bound_method_includes_the_class_name():
    assert group_name(Holder().method) == "tests.compat.test_core.Holder.Holder.method"


def test_is_ratelimited_without_increment_never_counts(backend, rf):
    peek = partial(
        is_ratelimited, increment=False, rate="1/m", method=is_ratelimited.ALL, key="ip", group="a"
    )
    assert not peek(rf.get("/"))
    assert not peek(rf.get("/"))


def test_is_ratelimited_with_increment(backend, rf):
    hit = partial(is_ratelimited, increment=True, rate="1/m", method=ALL, key="ip", group="a")
    assert not hit(rf.get("/"))
    assert hit(rf.get("/"))


def test_get_usage_of_an_unused_key(backend, rf):
    usage = get_usage(rf.get("/"), method=get_usage.ALL, key="ip", rate="1/m", group="a")
    assert usage["count"] == 0
    assert usage["limit"] == 1
    assert 0 < usage["time_left"] <= 60
    assert usage["should_limit"] is False


def test_get_usage_counts_requests_past_the_limit(backend, rf):
    usage_of = partial(get_usage, method=ALL, key="ip", rate="1/m", group="a")
    for expected in (1, 2, 3):
        usage = usage_of(rf.get("/"), increment=True)
        assert usage["count"] == expected
    peek = usage_of(rf.get("/"))
    assert peek["count"] == 3
    assert peek["limit"] == 1
    assert peek["should_limit"] is True
    assert 0 < peek["time_left"] <= 60


def test_get_usage_needs_group_or_fn(backend, rf):
    with pytest.raises(ImproperlyConfigured):
        get_usage(rf.get("/"), key="ip")
