"""The facts the status page shows, and what reading them costs Redis."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.support.admin import STATUS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_tracker")]


def test_page_load_costs_four_redis_commands_in_two_round_trips(viewer, redis):
    monitor = redis.client()
    before = {k: v["calls"] for k, v in monitor.info("commandstats").items()}
    assert viewer.get(reverse(STATUS)).status_code == 200
    after = {k: v["calls"] for k, v in monitor.info("commandstats").items()}
    # The INFO we just sent to read the stats is counted once in "after".
    spent = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    spent["cmdstat_info"] -= 1
    spent = {k: v for k, v in spent.items() if v}
    assert spent == {"cmdstat_ping": 1, "cmdstat_info": 1, "cmdstat_zrevrange": 2}
