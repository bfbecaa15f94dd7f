from django.contrib import admin
from django.urls import path

from example import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("signin/", views.signin, name="signin"),
    path("export/", views.export, name="export"),
    path("api/items/", views.api_items, name="api-items"),
    path("api/search/", views.SearchView.as_view(), name="api-search"),
    path("report/", views.async_report, name="report"),
    path("admin/", admin.site.urls),
]
