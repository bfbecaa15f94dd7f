"""The subscribers wired in ops/install.py: the Django signals are sent from the event bus."""

from __future__ import annotations

from django_ratelimit_guard import check
from django_ratelimit_guard.signals import request_limited
from tests.support.builders import request_from


def test_request_limited_signal_carries_the_decision(redis):
    seen = []

    def receiver(sender, request, decision, **kwargs):
        seen.append(decision)

    request_limited.connect(receiver)
    try:
        for _ in range(4):
            check(request_from(), "login")
    finally:
        request_limited.disconnect(receiver)
    assert len(seen) == 1
    assert seen[0].policy == "login"
    assert not seen[0].allowed
