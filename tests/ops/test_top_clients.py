"""The most-limited clients: listed by digest and a safe label, never by their raw value."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_ratelimit_guard.core.keys import hash_key_value
from tests.support.admin import STATUS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_tracker")]


def test_limited_client_is_listed_by_hash_and_safe_label(viewer, client, redis):
    for _ in range(4):
        client.post("/login/", REMOTE_ADDR="203.0.113.9")
    html = viewer.get(reverse(STATUS)).content.decode()
    from django_ratelimit_guard.conf.settings import guard_settings

    digest = hash_key_value("203.0.113.9", guard_settings().key_secret)
    assert f"<code>{digest}</code>" in html
    assert "203.0.113.0/24" in html
    assert "203.0.113.9" not in html
