"""``manage.py vectorstore_restore ARCHIVE``: put a snapshot of the embedded store back (the store must be stopped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    """``manage.py vectorstore_restore``: unpack a snapshot into the store directory (store stopped)."""

    help = "Restore a collection of the embedded vector store from a vectorstore_backup archive (store stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        """Options: the archive, ``--path`` (the store folder), ``--collection`` (default: from the archive name)."""
        parser.add_argument("archive")
        parser.add_argument("--path", default=str(settings.QDRANT_PATH), help="the store folder (QDRANT_PATH)")
        parser.add_argument("--collection", default=None, help="collection name (default: from the archive name)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Check, unpack and swap in the snapshot; prints the restored collection."""
        from devstack.vectorstore import StoreError, snapshot_restore  # noqa: PLC0415 - qdrant-edge loads on use, not at command discovery

        archive, path = Path(options["archive"]), Path(options["path"])
        if not archive.is_file():
            raise CommandError(f"{archive} is not a file")
        try:  # a store serving the directory holds its lock: StoreInUse (a StoreError) names its process
            name = snapshot_restore(snapshot=archive, store_path=path, collection=options["collection"])
        except StoreError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"restored collection {name} into {path}"))
