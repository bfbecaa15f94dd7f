"""Signals: ``request_limited(sender, request, decision)`` and
``breaker_state_changed(sender, scope, old, new)`` with states "closed", "half_open", "open"."""

from django.dispatch import Signal

request_limited = Signal()
breaker_state_changed = Signal()
