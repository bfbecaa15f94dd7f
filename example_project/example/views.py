import asyncio
import time

from django.contrib.auth import authenticate, login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View

from django_ratelimit_guard import rate_limit


def home(request):
    return render(request, "home.html")


@rate_limit("login")
def login_view(request):
    """POST a username and password; the 6th POST in a minute from one address gets a 429."""
    error = ""
    if request.method == "POST":
        user = authenticate(
            request, username=request.POST.get("username"), password=request.POST.get("password")
        )
        if user is not None:
            login(request, user)
            return HttpResponse("Welcome!")
        error = "Wrong username or password."
    return render(request, "login.html", {"error": error})


@rate_limit("failed-signin")
def signin(request):
    """POST username and password: 401 when wrong. Only failures count (count_when [401])."""
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponse("Wrong username or password.\n", status=401)
    login(request, user)
    return HttpResponse("Welcome!\n")


@rate_limit("exports")
def export(request):
    """A slow export: at most two in flight per address (the third gets 429, Retry-After: 1)."""
    time.sleep(float(request.GET.get("seconds", "0.5")))
    return HttpResponse("id,name\n1,apple\n", content_type="text/csv")


def api_items(request):
    """Covered by the middleware's "api" and "api-burst" policies (paths ["/api/"])."""
    return JsonResponse({"items": ["apple", "pear"], "rate_limit": _summary(request)})


@rate_limit(rate="3/10s", key="ip", name="slow-report")
async def async_report(request):
    """An async view with an inline policy: 3 requests per 10 seconds per address."""
    await asyncio.sleep(0)
    return JsonResponse({"report": "ready", "rate_limit": _summary(request)})


@method_decorator(rate_limit(rate="20/m", key="user_or_ip", name="search"), name="dispatch")
class SearchView(View):
    """A class-based view limited through method_decorator."""

    def get(self, request):
        return JsonResponse({"q": request.GET.get("q", ""), "results": []})


def _summary(request):
    result = getattr(request, "rate_limit", None)
    if result is None:
        return []
    return [
        {"policy": d.policy, "remaining": d.remaining, "limit": d.limit, "source": d.source}
        for d in result.decisions
    ]
