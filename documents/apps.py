"""Django's registration of the documents app."""

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    """The documents app (Document, Chunk and their admin), with 64-bit primary keys."""

    name = "documents"
    verbose_name = "Documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the Celery hooks (``documents.signals``: the vector store's reconciliation on worker start)."""
        from documents import signals  # noqa: F401, PLC0415 - imported for its signal connections
