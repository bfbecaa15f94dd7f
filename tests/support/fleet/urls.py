from django.urls import path

from tests.support.fleet import views

urlpatterns = [
    path("fleet/", views.where),
    path("tight/", views.where),
    path("continuity/", views.where),
]
