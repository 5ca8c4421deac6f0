"""``manage.py vectorstore_backup --output DIR``: snapshot every collection of the store at QDRANT_URL into DIR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from docintel.errors import VectorStoreUnavailable


class Command(BaseCommand):
    """``manage.py vectorstore_backup``: snapshot the store's collections and download the archives."""

    help = "Back up the vector store: one snapshot archive per collection (restore with vectorstore_restore)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Options: ``--output`` (the archives' folder), ``--collection`` (repeatable; default: every collection)."""
        parser.add_argument("--output", default=str(settings.VAR_DIR / "backups" / "qdrant"))
        parser.add_argument("--collection", action="append", default=[], help="only this collection (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Snapshot and download; prints each archive written."""
        from documents.services.vectorstore import collections_backup  # noqa: PLC0415 - qdrant-client is heavy

        try:
            written = collections_backup(output=Path(options["output"]), collections=options["collection"] or None)
        except VectorStoreUnavailable as exc:
            raise CommandError(str(exc)) from exc
        for path in written:
            self.stdout.write(f"{path} ({path.stat().st_size} bytes)")
        self.stdout.write(self.style.SUCCESS(f"{len(written)} collection(s) backed up"))
