"""A view whose inline rate is malformed, in another module (tests/edge/test_startup_boot.py)."""

from django.http import HttpResponse

from django_ratelimit_guard import rate_limit


@rate_limit(rate="5/minute", key="ip")
def search(request):
    return HttpResponse("search")


@rate_limit(rate="5/m", key="ip")
def fine(request):
    return HttpResponse("fine")
