from django.contrib import admin
from django.urls import path

from tests.support import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", views.login),
    path("inline/", views.inline),
    path("async/", views.async_view),
    path("cbv/", views.LimitedView.as_view()),
    path("stacked/", views.stacked),
    path("shadow/", views.shadow),
    path("raises/", views.raises),
    path("api/items/", views.api_items),
    path("api/health", views.api_items),
    path("plain/", views.plain),
    path("async-tenant/", views.async_tenant),
]
