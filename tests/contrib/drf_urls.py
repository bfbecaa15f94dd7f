from django.urls import path

from tests.contrib import drf_views as v

urlpatterns = [
    path("drf/scoped/", v.Scoped.as_view()),
    path("drf/several/", v.Several.as_view()),
    path("drf/unlimited/", v.Unlimited.as_view()),
    path("drf/unknown/", v.Unknown.as_view()),
    path("drf/by-user/", v.ByUser.as_view()),
    path("drf/defaults/", v.FromDefaults.as_view()),
    path("drf/headers/", v.WithHeaders.as_view()),
    path("drf/path/scoped/", v.PathAndScope.as_view()),
    path("drf/subclass/", v.SubclassPolicies.as_view()),
    path("drf/closed/", v.Closed.as_view()),
]
