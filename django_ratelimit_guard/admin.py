"""The admin status page and its operator actions.

``Status`` is an unmanaged model without a table: it gives the page a place in the admin index
and carries the ``view_status`` and ``manage_guard`` permissions. ``StatusAdmin.get_urls``
replaces the change list with the status page; every view is wrapped in ``admin_site.admin_view``
(login, staff, CSRF, never cached) and checks its own permission.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone as dj_timezone

from django_ratelimit_guard.conf.settings import guard_settings
from django_ratelimit_guard.core.exceptions import ActionError
from django_ratelimit_guard.core.keys import hash_key_value
from django_ratelimit_guard.ops import actions, status
from django_ratelimit_guard.ops import overrides as rule_actions
from django_ratelimit_guard.ops.models import (
    BreakerCommand,
    BreakerEvent,
    RateLimitOverride,
    Status,
)

logger = logging.getLogger("django_ratelimit_guard")

VIEW_PERMISSION = "django_ratelimit_guard.view_status"
MANAGE_PERMISSION = "django_ratelimit_guard.manage_guard"

#: action slug -> (title shown on the confirmation page, fields it reads from the form)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reset-breaker": ("Reset circuit breaker", ("scope",)),
    "force-open": ("Force circuit breaker open", ("scope", "reason")),
    "clear-fallback": ("Clear the in-memory fallback store", ()),
    "reset-client": ("Reset client", ("policy", "key_value", "digest")),
}

#: Actions recorded as fleet commands (``fleet.py``) rather than done in this process only.
FLEET_ACTIONS = frozenset({"reset-breaker", "force-open", "clear-fallback"})


def _can_view(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(VIEW_PERMISSION))


def _can_manage(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(MANAGE_PERMISSION))


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _can_view(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can_view(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.status_view), name="django_ratelimit_guard_status"),
            # The admin index links to the change list: make it the same page.
            path("", wrap(self.status_view), name="django_ratelimit_guard_status_changelist"),
            path(
                "<slug:action>/",
                wrap(self.action_view),
                name="django_ratelimit_guard_status_action",
            ),
        ]

    def status_view(self, request: HttpRequest) -> HttpResponse:
        if not _can_view(request):
            raise PermissionDenied
        snapshot = status.collect()
        context = {
            **self.admin_site.each_context(request),
            "title": "Rate limit guard status",
            "opts": self.model._meta,
            "snapshot": snapshot,
            "can_manage": _can_manage(request),
            "policy_names": [p.name for p in snapshot.policies],
        }
        return TemplateResponse(request, "admin/django_ratelimit_guard/status.html", context)

    def action_view(self, request: HttpRequest, action: str) -> HttpResponse:
        if action not in ACTIONS:
            raise Http404("Unknown action.")
        if not _can_manage(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])  # a GET never changes anything
        title, names = ACTIONS[action]
        fields = {name: request.POST.get(name, "").strip() for name in names}
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": f"{title}?",
                "opts": self.model._meta,
                "action": action,
                "action_title": title,
                "fields": fields,
                "fleet_wide": action in FLEET_ACTIONS,
                "poll_seconds": guard_settings().control.poll_seconds,
                "status_url": reverse("admin:django_ratelimit_guard_status"),
            }
            return TemplateResponse(request, "admin/django_ratelimit_guard/confirm.html", context)
        try:
            message = _perform(action, fields, request.user.get_username())
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            _log(request, action, fields, message)
            messages.success(request, message)
        return HttpResponseRedirect(reverse("admin:django_ratelimit_guard_status"))


def _perform(action: str, fields: dict[str, str], by: str) -> str:
    # Breaker and fallback actions are fleet commands: every worker process applies them.
    if action == "reset-breaker":
        return actions.reset_breaker(fields["scope"], by=by)
    if action == "force-open":
        return actions.force_open(fields["scope"], fields["reason"][:100] or "maintenance", by=by)
    if action == "clear-fallback":
        return actions.clear_fallback(by=by)
    return actions.reset_client(
        fields["policy"],
        key_value=fields["key_value"] or None,
        digest=fields["digest"] or None,
        by=by,
    )


def _log(request: HttpRequest, action: str, fields: dict[str, str], message: str) -> None:
    """An admin LogEntry (the audit trail) and a log line. Raw key values are stored hashed."""
    recorded = dict(fields)
    if recorded.get("key_value"):
        recorded["digest"] = hash_key_value(recorded.pop("key_value"), guard_settings().key_secret)
    recorded = {k: v for k, v in recorded.items() if v}
    target = recorded.get("scope") or recorded.get("policy") or "fallback"
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type_id=ContentType.objects.get_for_model(Status, for_concrete_model=False).pk,
        object_id=target,
        object_repr=f"{action} {target}"[:200],
        action_flag=CHANGE,
        change_message=message,
    )
    logger.warning(
        "Operator %s: %s",
        request.user.get_username(),
        message,
        extra={
            "event": "operator_action",
            "action": action,
            "user": request.user.get_username(),
            **recorded,
        },
    )


@admin.register(BreakerEvent)
class BreakerEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only history of breaker transitions from every process."""

    list_display = ("time", "scope", "from_state", "to_state", "reason", "host", "pid")
    list_filter = ("scope", "to_state", "host")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BreakerCommand)
class BreakerCommandAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only history of fleet commands; they are issued from the status page or manage.py."""

    list_display = ("id", "created_at", "action", "scope", "reason", "created_by")
    list_filter = ("action", "scope")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting a standing force-open would silently change what workers obey


class OverrideForm(forms.ModelForm):  # type: ignore[type-arg]
    """Validates a rule as ``override add`` does (ops/overrides.py), normalizing the key value."""

    class Meta:
        model = RateLimitOverride
        fields = ("policy", "key", "action", "rate", "expires_at", "reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["key"], data["rate"] = rule_actions.validate(
                data.get("policy", ""),
                data.get("key", ""),
                data.get("action", ""),
                data.get("rate", ""),
                data.get("expires_at"),
            )
        except ActionError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(RateLimitOverride)
class RateLimitOverrideAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Runtime overrides (issue #15): Django's model permissions guard each action and the admin
    log records each change (its entry names the rule by id and policy, not the key value)."""

    form = OverrideForm
    list_display = ("id", "policy", "key", "action", "rate", "expires_at", "reason", "created_by")
    list_filter = ("action", "policy")
    search_fields = ("key", "reason")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.created_at = dj_timezone.now()
        obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)
        rule_actions.sync()  # this process at once; the others within their next poll

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        rule_actions.sync()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        rule_actions.sync()
