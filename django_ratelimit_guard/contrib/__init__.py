"""Integrations with other libraries (Django REST framework) and the observability kit.

Each integration lives in its own module and imports its library only there, so installing
django-ratelimit-guard never requires them.
"""
