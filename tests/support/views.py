from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View

from django_ratelimit_guard import RateLimited, rate_limit


@rate_limit("login")
def login(request):
    return HttpResponse("login page")


@rate_limit(rate="2/m", key="ip")
def inline(request):
    return HttpResponse("inline")


@rate_limit(rate="2/m", key="ip", name="async-inline")
async def async_view(request):
    return HttpResponse("async")


@method_decorator(rate_limit(rate="2/m", key="ip", name="cbv"), name="dispatch")
class LimitedView(View):
    def get(self, request):
        return HttpResponse("cbv")


@rate_limit(rate="10/m", key="ip", name="stacked-outer")
@rate_limit(rate="1/m", key="ip", name="stacked-inner")
def stacked(request):
    return HttpResponse("stacked")


@rate_limit(rate="1/m", key="ip", name="shadow", block=False)
def shadow(request):
    return HttpResponse("shadow")


def raises(request):
    raise RateLimited()


def api_items(request):
    return JsonResponse({"items": []})


def plain(request):
    return HttpResponse("plain")


@rate_limit(rate="2/m", key="tests.support.callables.tenant_key", name="async-tenant")
async def async_tenant(request):
    return HttpResponse("tenant")
