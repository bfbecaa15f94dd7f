"""A second URLconf: /login/ reaches an undecorated view (the view-names cache test)."""

from django.urls import path

from tests.support import views

urlpatterns = [path("login/", views.plain), path("plain/", views.login)]
