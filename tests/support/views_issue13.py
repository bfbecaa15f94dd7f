"""Views and a URLconf for the issue #13 edge tests (``@pytest.mark.urls``)."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View

from django_ratelimit_guard import RateLimited, check, rate_limit
from django_ratelimit_guard.core.decisions import Decision


def checked(request):
    """Counts 'login' with check(), no decorator."""
    result = check(request, "login")
    if not result.allowed:
        raise RateLimited(result.decision)
    return HttpResponse("checked")


@rate_limit(rate="10/m", key="ip", name="outer-inline")
def checked_under_decorator(request):
    check(request, "login")
    return HttpResponse("checked under a decorator")


@rate_limit(rate="2/m", key="ip")
def report(request):
    return HttpResponse("report")


@rate_limit(rate="2/m", key="ip", name="public-report")
def renamed_report(request):
    return HttpResponse("renamed")


@method_decorator(rate_limit(rate="2/m", key="ip"), name="dispatch")
class ReportView(View):
    def get(self, request):
        return HttpResponse("cbv report")


def raises_long_wait(request):
    check(request, "burst")  # allowed: its own reset is a fraction of a second
    raise RateLimited(
        Decision("login", False, 3, 0, reset_after=2.0, retry_after=90.0, source="redis", window=60)
    )


urlpatterns = [
    path("checked/", checked),
    path("checked-under-decorator/", checked_under_decorator),
    path("report/", report),
    path("renamed-report/", renamed_report),
    path("report-view/", ReportView.as_view()),
    path("long-wait/", raises_long_wait),
]
