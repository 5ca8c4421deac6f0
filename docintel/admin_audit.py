"""Every change made through the admin writes an AuditLog row (explicitly, from the ModelAdmin hooks)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from audit.services import audit_log_write
from docintel.context import ActorContext


def _message_text(message: Any) -> Any:
    return message if isinstance(message, (str, list, dict)) else str(message)


class AuditedAdminMixin(admin.ModelAdmin):  # type: ignore[type-arg]  # mixed into typed ModelAdmin subclasses
    """Writes ``admin_add``, ``admin_change`` and ``admin_delete`` audit rows next to Django's own LogEntry."""

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        """Audit an object created in the admin (``admin_add`` with Django's message), then write Django's LogEntry."""
        ctx = ActorContext.from_request(request)
        audit_log_write(action="admin_add", target=obj, ctx=ctx, details={"message": _message_text(message)})
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        """Audit an admin edit (``admin_change`` with the changed fields Django lists), then write Django's LogEntry."""
        ctx = ActorContext.from_request(request)
        audit_log_write(action="admin_change", target=obj, ctx=ctx, details={"message": _message_text(message)})
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        """Audit each object the admin is about to delete (one ``admin_delete`` row each), then write the LogEntries.

        Django calls this before the rows are deleted, from the delete page and the bulk delete action alike.
        """
        ctx = ActorContext.from_request(request)
        for obj in queryset:
            audit_log_write(action="admin_delete", target=obj, ctx=ctx)
        return super().log_deletions(request, queryset)
