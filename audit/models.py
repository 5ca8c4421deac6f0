"""AuditLog: append-only record of who did what. Rows are never updated or deleted (enforced in the database)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit row."""


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    """Refuses bulk updates and deletes, so no ORM call changes or removes audit rows.

    The database refuses them as well (triggers), for code that bypasses the ORM.
    """

    def update(self, **kwargs: Any) -> int:
        """Refuse: audit rows are never changed.

        Args:
            **kwargs: the fields an update would set (ignored).

        Raises:
            AppendOnlyError: always.
        """
        raise AppendOnlyError("Audit rows are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        """Refuse: audit rows are never deleted.

        Raises:
            AppendOnlyError: always.
        """
        raise AppendOnlyError("Audit rows are append-only.")


class AuditLog(models.Model):
    """One action by one actor on one target, with where it came from (IP, user agent, request id).

    ``actor_repr`` and ``target_repr`` keep the names as they were, so a row stays readable after the user or the
    object is gone (the actor's foreign key has no database constraint, for that reason).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,  # the row outlives the user; it keeps actor_repr
        related_name="+",
    )
    actor_repr = models.CharField(_("actor"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True, db_index=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(_("target"), max_length=255, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        """Newest first; only "add" and "view" permissions exist, so nobody can be granted change or delete."""

        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ("-created_at", "-id")
        default_permissions = ("add", "view")

    def __str__(self) -> str:
        """``<time> <actor> <action> <target>`` on one line (``-`` for no actor): the row's admin page title."""
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_repr or '-'} {self.action} {self.target_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert a new row; saving one that already exists is refused.

        Args:
            *args: passed to ``Model.save``.
            **kwargs: passed to ``Model.save``.

        Raises:
            AppendOnlyError: the row is already stored.
        """
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Audit rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Refuse: audit rows are never deleted.

        Args:
            *args: ignored.
            **kwargs: ignored.

        Raises:
            AppendOnlyError: always.
        """
        raise AppendOnlyError("Audit rows are append-only.")
