from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.views import View

from django_ratelimit_guard import rate_limit


def view(request):
    return None


def test_misspelt_inline_rate_fails_when_the_module_is_imported():
    with pytest.raises(ImproperlyConfigured, match="5/minute"):
        rate_limit(rate="5/minute", name="bad-rate")(view)


def test_decorator_without_parentheses_is_a_type_error():
    with pytest.raises(TypeError, match="parentheses"):
        rate_limit(view)


def test_name_and_inline_fields_together_are_a_type_error():
    with pytest.raises(TypeError):
        rate_limit("login", rate="5/m")


def test_unknown_field_is_a_type_error():
    with pytest.raises(TypeError, match="colour"):
        rate_limit(rate="5/m", colour="red")


def test_decorating_a_class_names_method_decorator():
    with pytest.raises(TypeError, match="method_decorator"):
        rate_limit(rate="5/m", name="cls")(View)


def test_decorating_a_method_directly_names_method_decorator():
    class Thing:
        @rate_limit(rate="5/m", name="method")
        def get(self, request):
            return None

    with pytest.raises(TypeError, match="method_decorator"):
        Thing().get(RequestFactory().get("/"))


def test_reusing_an_inline_name_with_other_fields_is_an_error():
    rate_limit(rate="5/m", name="reused")(view)
    with pytest.raises(ImproperlyConfigured, match="reused"):
        rate_limit(rate="6/m", name="reused")(view)
