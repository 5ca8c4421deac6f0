"""``manage.py vectorstore_reconcile [--dry-run]``: delete the vector store's points no document needs, and say which.

The same service runs once each time a Celery worker starts (``documents.signals``); this command runs it by hand
and prints what it found: points and documents per kind, and how many points were deleted.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from docintel.errors import VectorStoreUnavailable

DESCRIPTIONS = {
    "missing": "of documents that no longer exist",
    "deleting": "of documents marked for deletion",
    "superseded": "of superseded versions",
    "stale": "of current documents without a matching chunk",
    "ingesting": "kept: documents being ingested",
    "pending": "kept: versions not yet current (staged)",
    "unknown": "kept: without a document or chunk id",
    "ok": "kept: current documents, matching their chunks",
}


class Command(BaseCommand):
    """Reconcile the vector store with the database (``documents.services.reconcile``)."""

    help = "Delete the vector store's orphan points (of deleted documents, superseded versions, removed chunks)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--dry-run`` (count, delete nothing) and ``--page-size``."""
        parser.add_argument("--dry-run", action="store_true", help="only report; delete nothing")
        parser.add_argument("--page-size", type=int, default=512, help="points read per scroll request")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the reconciliation and print one line per kind found, then the total deleted.

        Raises:
            CommandError: the vector store is unreachable (nothing was deleted past that point).
        """
        from documents.services.reconcile import vectorstore_reconcile  # noqa: PLC0415 - qdrant-client is heavy

        try:
            report = vectorstore_reconcile(dry_run=options["dry_run"], page_size=options["page_size"])
        except VectorStoreUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{report.scanned} point(s) scanned")
        for kind, description in DESCRIPTIONS.items():
            count = report.points.get(kind, 0)
            if count:
                ids = report.documents.get(kind, [])
                shown = ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
                suffix = f" (documents {shown})" if kind != "ok" else ""
                self.stdout.write(f"{count} point(s) {description}{suffix}")
        if report.dry_run:
            self.stdout.write(self.style.WARNING(f"dry run: {report.orphans} orphan point(s) found, none deleted"))
        else:
            self.stdout.write(self.style.SUCCESS(f"{report.deleted} orphan point(s) deleted"))
            if report.keys_repaired:
                self.stdout.write(f"{report.keys_repaired} point(s) had stale search keys, rewritten")
