"""The demo's URLs plus the bench views (bench/e2e.py)."""

from django.urls import path

from example import bench_views
from example.urls import urlpatterns as demo_urlpatterns

urlpatterns = [
    path("bench/plain/async/", bench_views.ok_async),
    path("bench/one/async/", bench_views.ok_async),
    path("bench/plain/", bench_views.ok),
    path("bench/floor/", bench_views.ok),
    path("bench/one/", bench_views.ok),
    path("bench/three/", bench_views.ok),
    path("bench/flood/", bench_views.ok),
    path("bench/django-ratelimit/", bench_views.django_ratelimit_ok),
    *demo_urlpatterns,
]
