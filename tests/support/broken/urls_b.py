from django.urls import path

from tests.support.broken import views_b

urlpatterns = [path("search/", views_b.search), path("fine/", views_b.fine)]
