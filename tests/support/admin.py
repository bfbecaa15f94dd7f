"""The admin status page for tests: its URL names and staff users with the app's permissions."""

from __future__ import annotations

from django.contrib.auth.models import Permission, User
from django.urls import reverse

STATUS = "admin:django_ratelimit_guard_status"


def action_url(action: str) -> str:
    return reverse("admin:django_ratelimit_guard_status_action", args=[action])


def staff(username: str, *perms: str, password: str = "pw") -> User:
    """A staff user holding ``perms`` (codenames of this app: view_status, manage_guard)."""
    user = User.objects.create_user(username, password=password, is_staff=True)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(
                codename=codename, content_type__app_label="django_ratelimit_guard"
            )
        )
    return user
