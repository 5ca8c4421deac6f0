"""``manage.py vectorstore_restore ARCHIVE``: put a snapshot of the embedded store back (the store must be stopped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devstack import localservers


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
        parsed = urlparse(settings.QDRANT_URL)
        local = path == Path(settings.QDRANT_PATH) and parsed.hostname in ("127.0.0.1", "localhost")
        if local and parsed.port and localservers.port_open(parsed.port):
            raise CommandError(f"The vector store at {settings.QDRANT_URL} is running: stop it before a restore.")
        try:
            name = snapshot_restore(snapshot=archive, store_path=path, collection=options["collection"])
        except StoreError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"restored collection {name} into {path}"))
