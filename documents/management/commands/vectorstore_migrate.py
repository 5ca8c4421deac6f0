"""``manage.py vectorstore_migrate``: copy an old local-mode store into the running store, vectors kept, with progress.

The embedded store used to be qdrant-client's local mode (``QDRANT_PATH/collection/*/storage.sqlite``). Start the new
store (``manage.py vectorstore`` or ``make run``), then run this once: every point is upserted with its id, vectors
and payload, so nothing is re-embedded and a second run changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from docintel.errors import VectorStoreUnavailable


class Command(BaseCommand):
    """``manage.py vectorstore_migrate``: copy an old local-mode store into the store at ``QDRANT_URL``."""

    help = "Migrate the old local-mode vector store (QDRANT_PATH) into the store at QDRANT_URL (Qdrant Edge)."

    def add_arguments(self, parser: CommandParser) -> None:
        """The command's options: ``--from`` (the local-mode folder, default ``QDRANT_PATH``) and ``--batch-size``."""
        parser.add_argument("--from", dest="source", default=str(settings.QDRANT_PATH), help="local-mode store folder")
        parser.add_argument("--batch-size", type=int, default=256)

    def handle(self, *args: Any, **options: Any) -> None:
        """Copy every collection with its vectors (nothing re-embedded), with a progress bar."""
        from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: PLC0415 - tqdm ships no type stubs

        from documents.services.vectorstore import collections_migrate_local  # noqa: PLC0415 - qdrant-client loads on use, not at command discovery

        bars: dict[str, Any] = {}

        def progress(collection: str, done: int, total: int) -> None:
            bar = bars.get(collection)
            if bar is None:
                bar = bars[collection] = tqdm(total=total, desc=collection, unit="pt", file=self.stderr)
            bar.update(done - bar.n)

        try:
            copied = collections_migrate_local(
                source=Path(options["source"]), batch_size=options["batch_size"], progress=progress
            )
        except (FileNotFoundError, VectorStoreUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        for name, count in copied.items():
            self.stdout.write(f"{name}: {count} points")
        self.stdout.write(self.style.SUCCESS(f"{len(copied)} collection(s) migrated"))
