"""Read-only audit log for librarians: nobody adds, changes or deletes rows here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin[AuditLog]):
    """The audit trail for librarians: who did what to which object, when and from where; nobody edits it.

    Newest first, filtered by action, target type and date, searched by actor, target or request id. Every field is
    read-only; nobody adds, changes or deletes a row here, superusers included.
    """

    list_display = ("created_at", "actor_repr", "action", "target_type", "target_repr", "ip_address")
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("actor_repr", "action", "target_repr", "target_id", "request_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "actor",
        "actor_repr",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "ip_address",
        "user_agent",
        "request_id",
        "details",
    )
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Nobody writes an audit row by hand: the services write them.

        Args:
            request: the admin request.

        Returns:
            Always False.
        """
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody changes an audit row (the page shows it read-only).

        Args:
            request: the admin request.
            obj: the row, or None on the list.

        Returns:
            Always False.
        """
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody deletes an audit row, superusers included.

        Args:
            request: the admin request.
            obj: the row, or None on the list.

        Returns:
            Always False.
        """
        return False
