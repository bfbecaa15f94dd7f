"""RateLimitMiddleware: path policies and the view's policies, one round trip."""

from __future__ import annotations

import pytest
from django.test import AsyncClient


@pytest.mark.django_db
async def test_async_middleware_applies_path_policies(redis):
    client = AsyncClient()
    codes = [(await client.get("/api/items/")).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
