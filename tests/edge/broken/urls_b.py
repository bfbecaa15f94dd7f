from django.urls import path

from tests.edge.broken import views_b

urlpatterns = [path("search/", views_b.search), path("fine/", views_b.fine)]
