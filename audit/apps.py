"""Django's registration of the audit app."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit app (AuditLog and its read-only admin), with 64-bit primary keys."""

    name = "audit"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"
