"""DRF views for tests/contrib/test_rest_framework*.py (URLconf: tests.contrib.drf_urls), and the
policies they name."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from django_ratelimit_guard.contrib.rest_framework import PolicyThrottle, RateLimitHeadersMixin

POLICIES = {
    "drf-scope": {"rate": "2/m", "key": "ip"},
    "drf-burst": {"rate": "3/m", "key": "ip"},
    "drf-sustained": {"rate": "2/h", "key": "ip"},
    "drf-user": {"rate": "1/m", "key": "user"},
    "drf-path": {"rate": "2/m", "key": "ip", "paths": ["/drf/path/"]},
    "drf-closed": {"rate": "2/m", "key": "ip", "fail_mode": "closed"},
}


class HeaderUserAuthentication(BaseAuthentication):
    """``X-Test-User: <pk>`` is a DRF-only user; Django's request.user stays anonymous."""

    def authenticate(self, request):
        pk = request.META.get("HTTP_X_TEST_USER")
        if not pk:
            return None

        class User:
            is_authenticated = True

        user = User()
        user.pk = pk
        return (user, None)


class Base(APIView):
    renderer_classes = [JSONRenderer]
    authentication_classes = []
    permission_classes = []
    throttle_classes = [PolicyThrottle]

    def get(self, request):
        return Response({"ok": True})


class Scoped(Base):
    throttle_scope = "drf-scope"


class Several(Base):
    rate_limit_policies = ["drf-burst", "drf-sustained"]


class Unlimited(Base):
    pass


class Unknown(Base):
    throttle_scope = "no-such-policy"


class ByUser(Base):
    authentication_classes = [HeaderUserAuthentication]
    throttle_scope = "drf-user"


class FromDefaults(Base):
    throttle_scope = "drf-scope"

    def get_throttles(self):
        # What APIView does with its class attribute, read at request time so the test's
        # REST_FRAMEWORK setting applies.
        return [throttle() for throttle in api_settings.DEFAULT_THROTTLE_CLASSES]


class WithHeaders(RateLimitHeadersMixin, Base):
    throttle_scope = "drf-scope"


class PathAndScope(Base):
    throttle_scope = "drf-path"


class BurstThrottle(PolicyThrottle):
    policies = ["drf-burst"]
    scope_attr = None


class SubclassPolicies(Base):
    throttle_classes = [BurstThrottle]
    throttle_scope = "ignored-by-this-throttle"


class Closed(Base):
    throttle_scope = "drf-closed"
