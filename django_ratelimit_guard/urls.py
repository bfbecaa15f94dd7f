"""``path("", include("django_ratelimit_guard.urls"))`` serves the protected ``/metrics``
(``reverse("ratelimit_guard:metrics")``)."""

from django.urls import path

from django_ratelimit_guard.edge import views

app_name = "ratelimit_guard"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
]
