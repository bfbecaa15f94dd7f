from django.urls import include, path, re_path

from tests.support import api_views as views

urlpatterns = [
    path("api/health", views.health),
    path("api/async/", views.async_echo),
    re_path(r"^api/", views.echo),
    path("open/", views.echo),
    path("", include("django_ratelimit_guard.urls")),
]
