"""A minimal view for bench/e2e.py: the same response with no limiter, our middleware, or
django-ratelimit's decorator. Not part of the demo; only example.bench_urls routes it."""

from django.http import HttpResponse
from django_ratelimit.decorators import ratelimit


def ok(request):
    return HttpResponse("ok\n", content_type="text/plain")


async def ok_async(request):
    """The same view as a coroutine (bench/asgi_e2e.py): under ASGI no thread hop for the view."""
    return HttpResponse("ok\n", content_type="text/plain")


# The peer, used as its documentation shows; a rate no bench run reaches.
django_ratelimit_ok = ratelimit(key="ip", rate="1000000000/h", block=True)(ok)
