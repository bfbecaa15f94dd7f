from django.http import HttpResponse
from django.urls import path

from django_ratelimit_guard.compat.decorators import ratelimit


@ratelimit(key="ip", rate="1/m")
def blocked(request):
    return HttpResponse("ok")


@ratelimit(key="ip", rate="1/m")
async def async_blocked(request):
    return HttpResponse("ok")


urlpatterns = [
    path("compat/blocked/", blocked),
    path("compat/async-blocked/", async_blocked),
]
