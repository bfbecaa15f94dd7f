from django.urls import path, re_path

from tests.system.live import views

urlpatterns = [
    re_path(r"^api/", views.decided),
    path("login/", views.decided),
    path("ip/", views.ip),
    re_path(r"^signed/", views.signed),
    path("health/", views.health),
]
