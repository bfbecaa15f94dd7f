"""Views of the issue #15 tests (count_when, concurrency, exemptions); routed by capability_urls.

Their policies are declared inline here (so that no other test's system check sees a decorator
naming a policy the base settings lack); the tests replace them by settings policies of the same
names (``capability_settings.guard``), which take precedence.
"""

from __future__ import annotations

import asyncio
import threading

from django.http import HttpResponse, StreamingHttpResponse

from django_ratelimit_guard import rate_limit
from tests.support.capability_settings import POLICIES

failed_login_policy = rate_limit(name="failed-login", **POLICIES["failed-login"])
exports_policy = rate_limit(name="exports", **POLICIES["exports"])
office_policy = rate_limit(name="office", **POLICIES["office"])

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


@failed_login_policy
def login_decorated(request):
    return login(request)


@failed_login_policy
async def async_login(request):
    ok = request.POST.get("password") == "right"
    return HttpResponse("welcome" if ok else "wrong password", status=200 if ok else 401)


@exports_policy
def export(request):
    arrived.release()
    gate.wait(10)
    if request.GET.get("fail"):
        raise ValueError("the export failed")
    return HttpResponse("report")


@exports_policy
async def async_export(request):
    arrived.release()
    event = async_gate.get("export")
    if event is not None:
        await event.wait()
    return HttpResponse("report")


@exports_policy
def streamed_export(request):
    def rows():
        yield "id,name\n"
        arrived.release()
        gate.wait(10)
        yield "1,apple\n"

    return StreamingHttpResponse(rows(), content_type="text/csv")


@office_policy
def office(request):
    return HttpResponse("office")


@office_policy
async def async_office(request):
    return HttpResponse("office")
