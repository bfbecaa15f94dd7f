"""Inline policy names sent to clients never expose module paths (issue #13, item 8)."""

from __future__ import annotations

import pytest
from django.core import checks

from django_ratelimit_guard import rate_limit
from django_ratelimit_guard.edge.checks import header_name_problems
from django_ratelimit_guard.engine import registry
from tests.support import views_issue13  # noqa: F401  (declares its policies before any snapshot)

URLS = "tests.support.views_issue13"


@pytest.fixture(autouse=True)
def _forget_inline_policies_declared_here():
    """The registry is process-wide: undo the inline policies these tests declare."""
    saved = (
        dict(registry._inline_fields),
        dict(registry._inline_built),
        dict(registry._header_names),
    )
    yield
    for current, before in zip(
        (registry._inline_fields, registry._inline_built, registry._header_names),
        saved,
        strict=True,
    ):
        current.clear()
        current.update(before)


@pytest.mark.urls(URLS)
def test_a_view_named_policy_is_sent_under_the_views_short_name(client, redis):
    response = client.get("/report/")
    assert response["RateLimit-Policy"] == '"report";q=2;w=60'
    assert response["RateLimit"].startswith('"report";r=1;')
    assert "tests.edge" not in response["RateLimit-Policy"]
    # Internally (admin, metrics, storage keys) the policy keeps its full dotted name.
    assert response.wsgi_request.rate_limit.policy == "tests.support.views_issue13.report"


@pytest.mark.urls(URLS)
def test_an_explicit_name_is_sent_as_given(client, redis):
    response = client.get("/renamed-report/")
    assert response["RateLimit-Policy"] == '"public-report";q=2;w=60'


@pytest.mark.urls(URLS)
def test_a_class_based_view_is_sent_under_its_class_and_method(client, redis):
    response = client.get("/report-view/")
    assert response["RateLimit-Policy"] == '"ReportView.dispatch";q=2;w=60'
    # Named after its own class, not after django.views.View or method_decorator's internals,
    # so two class-based views never share a counter.
    assert [d.policy for d in response.wsgi_request.rate_limit] == [
        "tests.support.views_issue13.ReportView.dispatch"
    ]


def test_a_view_defined_in_a_function_drops_the_locals_marker():
    def make():
        @rate_limit(rate="2/m", key="ip")
        def nested(request): ...

        return nested

    make()
    (name,) = [n for n in registry._inline_fields if n.endswith("<locals>.nested")]
    assert registry.header_name(name) == "nested"


def test_two_views_with_one_short_name_are_a_check_warning(settings):
    def report(request): ...

    report.__module__, report.__qualname__ = "shop.views", "report"
    rate_limit(rate="5/m", key="ip")(report)
    problems = header_name_problems()
    assert [p.id for p in problems] == ["ratelimit_guard.W090"]
    assert "shop.views.report" in problems[0].msg
    assert "tests.support.views_issue13.report" in problems[0].msg
    assert "name=" in problems[0].hint


def test_a_short_name_equal_to_a_settings_policy_is_a_check_warning(settings):
    def login(request): ...

    login.__module__, login.__qualname__ = "accounts.views", "login"
    rate_limit(rate="5/m", key="ip")(login)
    (problem,) = [p for p in header_name_problems() if "'login'" in p.msg]
    assert "accounts.views.login" in problem.msg


def test_the_clash_is_a_warning_in_manage_py_check_not_an_error(settings):
    def report(request): ...

    report.__module__, report.__qualname__ = "blog.views", "report"
    rate_limit(rate="5/m", key="ip")(report)
    (message,) = [
        m for m in checks.run_checks(tags=["ratelimit_guard"]) if m.id == "ratelimit_guard.W090"
    ]
    assert message.level == checks.WARNING
