"""``@ratelimit``: django-ratelimit's behaviour (keys, rates, methods, groups, blocking, methods
and class-based views, async), run against the atomic engine on a real redis-server, its own
counting on the same redis-server, and LocMemCache (the ``backend`` fixture); mistakes caught when
the decorator is applied."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.utils.decorators import method_decorator
from django.views.generic import View

from django_ratelimit_guard.compat import UNSAFE
from django_ratelimit_guard.compat.core import (
    get_usage,
)
from django_ratelimit_guard.compat.decorators import ratelimit
from django_ratelimit_guard.compat.exceptions import Ratelimited
from tests.support.builders import FakeUser


class CustomRatelimitedException(Exception):
    pass


def mykey(group, request):
    return request.META["REMOTE_ADDR"][::-1]


def callable_rate(group, request):
    if request.user.is_authenticated:
        return None
    return (0, 1)


def limited_flag(**kwargs):
    @ratelimit(block=False, **kwargs)
    def view(request):
        return request.limited

    return view


def test_second_request_from_an_ip_is_limited(backend, rf):
    view = limited_flag(key="ip", rate="1/m")
    assert not view(rf.get("/"))
    assert view(rf.get("/"))


def test_block_raises_ratelimited_a_permission_denied(backend, rf):
    @ratelimit(key="ip", rate="1/m")
    def view(request):
        return request.limited

    assert not view(rf.get("/"))
    with pytest.raises(Ratelimited) as info:
        view(rf.get("/"))
    assert isinstance(info.value, PermissionDenied)


@pytest.mark.parametrize(
    "cls", [CustomRatelimitedException, "tests.compat.test_decorators.CustomRatelimitedException"]
)
def test_custom_exception_class(backend, rf, settings, cls):
    settings.RATELIMIT_EXCEPTION_CLASS = cls

    @ratelimit(key="ip", rate="1/m")
    def view(request):
        return request.limited

    assert not view(rf.get("/"))
    with pytest.raises(CustomRatelimitedException):
        view(rf.get("/"))


def test_method_limits_only_that_method(backend, rf):
    view = limited_flag(key="ip", method="POST", rate="1/m", group="a")
    assert not view(rf.post("/"))
    assert view(rf.post("/"))
    assert not view(rf.get("/"))


def test_unsafe_methods(backend, rf):
    view = limited_flag(key="ip", method=ratelimit.UNSAFE, rate="0/m")
    assert ratelimit.UNSAFE == UNSAFE
    for make in (rf.get, rf.head, rf.options):
        assert not view(make("/"))
    for make in (rf.delete, rf.post, rf.put, rf.patch):
        assert view(make("/"))


@pytest.mark.parametrize(("key", "make"), [("get:foo", "get"), ("post:foo", "post")])
def test_get_and_post_keys_count_per_value(backend, rf, key, make):
    view = limited_flag(key=key, rate="1/m")
    request = getattr(rf, make)
    assert not view(request("/", {"foo": "a"}))
    assert view(request("/", {"foo": "a"}))
    assert not view(request("/", {"foo": "b"}))
    assert view(request("/", {"foo": "b"}))


def test_header_key_and_missing_header(backend, rf):
    @ratelimit(key="header:x-real-ip", rate="1/m", block=False)
    @ratelimit(key="header:x-missing-header", rate="1/m", block=False)
    def view(request):
        return request.limited

    assert not view(rf.post("/", HTTP_X_REAL_IP="1.2.3.4"))
    assert view(rf.post("/", HTTP_X_REAL_IP="1.2.3.4"))


def test_rate_allows_exactly_count_requests(backend, rf):
    view = limited_flag(key="ip", rate="2/m")
    assert not view(rf.post("/"))
    assert not view(rf.post("/"))
    assert view(rf.post("/"))


def test_zero_rate_always_limits(backend, rf):
    assert limited_flag(key="ip", rate="0/m")(rf.post("/"))


def test_none_rate_never_limits(backend, rf):
    view = limited_flag(key="ip", rate=None)
    assert not any(view(rf.post("/")) for _ in range(5))


def test_callable_rate_per_user(backend, rf):
    def get_rate(group, request):
        return (2, 60) if request.user.is_authenticated else (1, 60)

    view = limited_flag(key="user_or_ip", rate=get_rate)

    def req(auth):
        request = rf.post("/")
        request.user = FakeUser(authenticated=auth)
        return request

    assert not view(req(False))
    assert view(req(False))
    assert not view(req(True))
    assert not view(req(True))
    assert view(req(True))


@pytest.mark.parametrize("empty", [None, ""])
def test_callable_rate_returning_none_or_empty_exempts(backend, rf, empty):
    view = limited_flag(key="ip", rate=lambda g, r: empty if r.never_limit else "1/m")

    def req(never_limit=False):
        request = rf.post("/")
        request.never_limit = never_limit
        return request

    assert not view(req())
    assert view(req())
    assert not view(req(True))
    assert not view(req(True))


def test_callable_rate_zero(backend, rf):
    view = limited_flag(key="ip", rate=lambda g, r: "1/m" if r.user.is_authenticated else "0/m")

    def req(auth):
        request = rf.post("/")
        request.user = FakeUser(authenticated=auth)
        return request

    assert view(req(False))
    assert not view(req(True))
    assert view(req(True))


def test_callable_rate_by_dotted_path(backend, rf):
    view = limited_flag(key="user_or_ip", rate="tests.compat.test_decorators.callable_rate")
    anonymous, authenticated = rf.post("/"), rf.post("/")
    anonymous.user, authenticated.user = FakeUser(authenticated=False), FakeUser(authenticated=True)
    assert view(anonymous)
    assert not view(authenticated)


def test_user_or_ip_counts_users_and_addresses_apart(backend, rf):
    view = limited_flag(key="user_or_ip", rate="1/m")

    def req(auth):
        request = rf.post("/")
        request.user = FakeUser(authenticated=auth)
        return request

    assert not view(req(False))
    assert view(req(False))
    assert not view(req(True))
    assert view(req(True))


@pytest.mark.parametrize("key", [mykey, "tests.compat.test_decorators.mykey"])
def test_callable_key_and_dotted_path_key(backend, rf, key):
    view = limited_flag(key=key, rate="1/m")
    assert not view(rf.post("/"))
    assert view(rf.post("/"))


def test_stacked_decorators_keep_request_limited(backend, rf):
    @ratelimit(rate="1/m", block=False, key=lambda x, y: "min")
    @ratelimit(rate="10/d", block=False, key=lambda x, y: "day")
    def view(request):
        return request.limited

    assert not view(rf.post("/"))
    assert view(rf.post("/"))


def test_stacked_methods_count_separately(backend, rf):
    @ratelimit(rate="1/m", key="ip", method="GET", block=False)
    @ratelimit(rate="1/m", key="ip", method="POST", block=False)
    def view(request):
        return request.limited

    assert not view(rf.get("/"))
    assert not view(rf.post("/"))
    assert view(rf.get("/"))
    assert view(rf.post("/"))


def test_method_order_does_not_matter_within_a_group(backend, rf):
    get_post = limited_flag(rate="1/m", key="ip", method=["GET", "POST"], group="a")
    post_get = limited_flag(rate="1/m", key="ip", method=["POST", "GET"], group="a")
    assert not get_post(rf.get("/"))
    assert post_get(rf.get("/"))


@pytest.mark.parametrize(
    ("setting", "mask", "first", "same_bucket", "other_bucket"),
    [
        ("RATELIMIT_IPV4_MASK", 32, "10.1.1.1", None, "10.1.1.2"),
        ("RATELIMIT_IPV4_MASK", 16, "10.1.1.1", "10.1.0.1", "192.168.1.1"),
        ("RATELIMIT_IPV6_MASK", 128, "2001:db8::1000", None, "2001:db8::1001"),
        ("RATELIMIT_IPV6_MASK", 64, "2001:db8::1000", "2001:db8::1001", "2001:db9::1000"),
    ],
)
def test_ip_masks_group_addresses(
    backend, rf, settings, setting, mask, first, same_bucket, other_bucket
):
    setattr(settings, setting, mask)
    view = limited_flag(rate="1/m", key="ip")

    def req(address):
        return rf.get("/", REMOTE_ADDR=address)

    assert not view(req(first))
    assert view(req(first))
    if same_bucket:
        assert view(req(same_bucket))
    assert not view(req(other_bucket))


def test_ratelimit_enable_false_disables_limits(backend, rf, settings):
    settings.RATELIMIT_ENABLE = False
    view = limited_flag(key="ip", rate="0/m")
    assert not view(rf.get("/"))
    assert get_usage(rf.get("/"), group="a", key="ip", rate="1/m") is None


def test_method_decorator_on_a_method(backend, rf):
    class TestView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", block=False))
        def post(self, request):
            return request.limited

    view = TestView.as_view()
    assert not view(rf.post("/"))
    assert view(rf.post("/"))


def test_method_decorator_on_the_class(backend, rf):
    @method_decorator(ratelimit(key="ip", rate="1/m", block=False), name="get")
    class TestView(View):
        def get(self, request):
            return request.limited

    view = TestView.as_view()
    assert not view(rf.get("/"))
    assert view(rf.get("/"))


def test_wrapping_an_as_view(backend, rf):
    class TestView(View):
        def get(self, request):
            return request.limited

    wrapped = ratelimit(key="ip", rate="1/m", block=False)(TestView.as_view())
    assert not wrapped(rf.get("/"))
    assert wrapped(rf.get("/"))


def test_views_and_methods_are_counted_separately(backend, rf):
    class TestView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", method="GET", block=False))
        def get(self, request):
            return request.limited

        @method_decorator(ratelimit(key="ip", rate="1/m", method="POST", block=False))
        def post(self, request):
            return request.limited

    class AnotherTestView(View):
        @method_decorator(ratelimit(key="ip", rate="1/m", method="GET", block=False))
        def get(self, request):
            return request.limited

    view, another = TestView.as_view(), AnotherTestView.as_view()
    assert not view(rf.get("/"))
    assert view(rf.get("/"))
    assert not view(rf.post("/"))
    assert not another(rf.get("/"))


async def test_async_view_is_limited(backend, rf):
    @ratelimit(key="ip", rate="1/m")
    async def view(request):
        return request.limited

    assert await view(rf.get("/")) is False
    with pytest.raises(Ratelimited):
        await view(rf.get("/"))


def test_malformed_static_rate_fails_when_the_decorator_is_applied():
    with pytest.raises(ImproperlyConfigured):
        ratelimit(key="ip", rate="5/minute")


def test_missing_key_with_a_static_rate_fails_when_the_decorator_is_applied():
    with pytest.raises(ImproperlyConfigured, match="key must be specified"):
        ratelimit(rate="1/m")
