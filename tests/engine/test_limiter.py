"""The decision path: from a request and its policies to a Result."""

from __future__ import annotations

import logging

import pytest
from django.test import AsyncClient


@pytest.mark.django_db
async def test_sync_callable_key_works_on_an_async_view(redis):
    client = AsyncClient()
    codes = [
        (await client.get("/async-tenant/", headers={"X-Tenant": "acme"})).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


@pytest.mark.django_db
def test_allowed_requests_log_nothing(client, redis, caplog):
    with caplog.at_level(logging.DEBUG, logger="django_ratelimit_guard"):
        for _ in range(3):
            assert client.post("/login/").status_code == 200
    assert caplog.records == []
