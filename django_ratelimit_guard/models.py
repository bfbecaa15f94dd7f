"""Persisted breaker transitions, and the permissions of the admin status page."""

from __future__ import annotations

from django.db import models


class BreakerEvent(models.Model):
    """One circuit-breaker state change in one worker process (rare by design; pruned)."""

    time = models.DateTimeField(db_index=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    scope = models.CharField(max_length=255)
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("-time", "-id")
        verbose_name = "breaker event"

    def __str__(self) -> str:
        return f"{self.scope}: {self.from_state} → {self.to_state} ({self.host}:{self.pid})"


class Status(models.Model):
    """No table: carries the status page's permissions and its entry in the admin index."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = (
            ("view_status", "Can view the rate limit guard status page"),
            ("manage_guard", "Can reset breakers, clients and the fallback store"),
        )
        verbose_name = "status"
        verbose_name_plural = "status"

    def __str__(self) -> str:
        return "Rate limit guard status"
