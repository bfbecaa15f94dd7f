"""The app's models: persisted breaker transitions, fleet commands, every live process's report,
and the status page's permissions. Django loads them through ``django_ratelimit_guard/models.py``;
the operations side (``events.py``, ``fleet.py``, ``reports.py``) owns them, so they live here."""

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


class BreakerCommand(models.Model):
    """An operator action for every process of the fleet (``ops/fleet.py`` applies it everywhere).

    The database carries it, not Redis: Redis may be what is under maintenance. ``scope`` is a
    breaker scope, ``<alias>`` (which covers its Cluster shards ``<alias>/<host:port>``) or
    ``"*"`` for every scope. History is bounded (``CONTROL['KEEP_COMMANDS']``) except that the
    newest force-open/reset of each scope is kept: it is what a newly started worker obeys.
    """

    scope = models.CharField(max_length=255)
    action = models.CharField(
        max_length=16,
        choices=[
            ("force_open", "force open"),
            ("reset", "reset"),
            ("clear_fallback", "clear fallback store"),
        ],
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(db_index=True)
    created_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name = "fleet command"

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.scope} by {self.created_by or '?'}"


class RateLimitOverride(models.Model):
    """A runtime rule for one client of one policy (issue #15; ``ops/overrides.py``).

    ``key`` is the key value the policy's key yields for that client, normalized for its kind
    (``core/key_values.py``): the raw value is stored so that an operator recognizes whom a rule
    names and so that rules survive a ``SECRET_KEY`` rotation (Redis only ever sees its keyed
    digest). It lives as long as the rule: expired rules are deleted a day after they expire,
    and the admin log (``LogEntry``) names a rule by its id and the client's digest, never by the
    raw value.
    """

    policy = models.CharField(max_length=200)
    key = models.CharField("key value", max_length=512)
    action = models.CharField(
        max_length=8,
        choices=[
            ("block", "block (429 until it expires)"),
            ("allow", "allow (exempt from the policy)"),
            ("rate", "rate (this client's own rate)"),
        ],
    )
    rate = models.CharField(max_length=32, blank=True, help_text="For 'rate': e.g. 1000/m.")
    expires_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Empty: until removed."
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name = "rate-limit override"
        constraints = [
            models.UniqueConstraint(fields=["policy", "key"], name="rlg_override_policy_key")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} on {self.policy}"


class ProcessReport(models.Model):
    """What one worker process last reported: its breaker states and fallback fill
    (``ops/reports.py`` writes it from the fleet poller thread; one row per host and pid, pruned
    when the process has not been seen for a while)."""

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    seen_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField()
    report = models.TextField()  # JSON: breakers and fallback store (reports.local_report)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "pid"], name="rlg_processreport_host_pid")
        ]
        ordering = ("host", "pid")
        verbose_name = "process report"

    def __str__(self) -> str:
        return f"{self.host}:{self.pid} (seen {self.seen_at:%H:%M:%S})"
