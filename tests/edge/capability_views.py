"""Views of the issue #15 tests (count_when, concurrency, exemptions); routed by capability_urls."""

from __future__ import annotations

import asyncio
import threading

from django.http import HttpResponse

from django_ratelimit_guard import rate_limit

#: Tests hold views here: set ``gate`` to make every view wait until it is set again.
gate = threading.Event()
gate.set()
arrived = threading.Semaphore(0)
async_gate: dict[str, asyncio.Event] = {}


def login(request):
    arrived.release()
    gate.wait(10)
    ok = request.POST.get("password") == "right"
    return HttpResponse("welcome" if ok else "wrong password", status=200 if ok else 401)


@rate_limit("failed-login")
def login_decorated(request):
    return login(request)


@rate_limit("failed-login")
async def async_login(request):
    ok = request.POST.get("password") == "right"
    return HttpResponse("welcome" if ok else "wrong password", status=200 if ok else 401)


@rate_limit("exports")
def export(request):
    arrived.release()
    gate.wait(10)
    if request.GET.get("fail"):
        raise ValueError("the export failed")
    return HttpResponse("report")


@rate_limit("exports")
async def async_export(request):
    arrived.release()
    event = async_gate.get("export")
    if event is not None:
        await event.wait()
    return HttpResponse("report")


@rate_limit("office")
def office(request):
    return HttpResponse("office")


@rate_limit("office")
async def async_office(request):
    return HttpResponse("office")
