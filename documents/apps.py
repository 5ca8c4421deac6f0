"""Django's registration of the documents app."""

from django.apps import AppConfig
from django.conf import settings


class DocumentsConfig(AppConfig):
    """The documents app (Document, Chunk and their admin), with 64-bit primary keys."""

    name = "documents"
    verbose_name = "Documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the Celery hooks (``documents.signals``: the vector store's reconciliation on worker start).

        A store on this machine over HTTP with its API key: qdrant-client's insecure-connection warning is silenced
        (``loopback_key_warning_silence``).
        """
        from documents import signals  # noqa: F401, PLC0415 - imported for its signal connections
        from documents.services.vectorstore import loopback_key_warning_silence  # noqa: PLC0415 - as above

        loopback_key_warning_silence(settings.QDRANT_URL)
