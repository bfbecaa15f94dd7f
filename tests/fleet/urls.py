from django.urls import path

from tests.fleet import views

urlpatterns = [path("fleet/", views.where)]
