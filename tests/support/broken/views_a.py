"""Views whose decorators name policies that do not exist (tests/edge/test_startup_boot.py)."""

from django.http import HttpResponse

from django_ratelimit_guard import rate_limit


@rate_limit("logn")
def login(request):
    return HttpResponse("login")


@rate_limit("sigup")
def signup(request):
    return HttpResponse("signup")
