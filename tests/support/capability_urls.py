from django.urls import path

from tests.support import capability_views as views

urlpatterns = [
    path("login/", views.login_decorated),
    path("async-login/", views.async_login),
    path("export/", views.export),
    path("streamed-export/", views.streamed_export),
    path("async-export/", views.async_export),
    path("office/", views.office),
    path("async-office/", views.async_office),
]
