from django.contrib import admin
from django.urls import include, path

from tests.support.broken import views_a

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", views_a.login),
    path("signup/", views_a.signup),
    path("b/", include("tests.support.broken.urls_b")),
]
