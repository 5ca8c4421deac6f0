"""``manage.py import_documents PATH``: upload every supported file under PATH (duplicates skipped), with progress."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from docintel.context import ActorContext
from docintel.errors import DocIntelError, DuplicateDocument
from documents.services.lifecycle import document_upload

SUFFIXES = {".pdf", ".docx", ".pptx", ".xlsx", ".xlsm", ".html", ".htm", ".md", ".csv", ".png", ".jpg", ".jpeg",
            ".tif", ".tiff", ".webp", ".txt", ".text", ".eml", ".zip"}  # fmt: skip


class Command(BaseCommand):
    """Bulk import from disk: every supported file under PATH goes through the upload service, unattended.

    Duplicates (same SHA-256) are counted, not errors; a refused file is reported with its code and the import goes on.
    The documents have no uploader and the given access groups (created when missing); the output ends with
    ``imported=… duplicate=… refused=…``.
    """

    help = "Import the documents under PATH (a file or a folder, recursively) and queue them for ingestion."

    def add_arguments(self, parser: CommandParser) -> None:
        """PATH, ``--group`` (repeatable) and ``--language`` (``el``, ``en``; empty: detect).

        Args:
            parser: the command's argument parser.
        """
        parser.add_argument("path")
        parser.add_argument("--group", action="append", default=[], help="access group name (repeatable)")
        parser.add_argument("--language", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        """Upload each file found, drawing a progress bar, then print the counts.

        Args:
            *args: unused.
            **options: ``path``, ``group`` (names) and ``language``.

        Raises:
            CommandError: PATH does not exist.
        """
        root = Path(options["path"])
        if not root.exists():
            raise CommandError(f"{root} does not exist")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
        groups = [Group.objects.get_or_create(name=name)[0] for name in options["group"]]
        counts = {"imported": 0, "duplicate": 0, "refused": 0}
        total = len(files)
        for index, path in enumerate(files, start=1):
            try:
                with path.open("rb") as handle:
                    document_upload(
                        fileobj=handle,
                        filename=path.name,
                        size=path.stat().st_size,
                        ctx=ActorContext.system(),
                        language=options["language"],
                        access_groups=groups,
                    )
                counts["imported"] += 1
            except DuplicateDocument:
                counts["duplicate"] += 1
            except DocIntelError as exc:
                counts["refused"] += 1
                self.stderr.write(f"\n{path}: {exc.code}: {exc.message}")
            self._progress(index, total)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(" ".join(f"{k}={v}" for k, v in counts.items())))

    def _progress(self, done: int, total: int) -> None:
        """Redraw the one-line progress bar ``[####----] done/total`` in place."""
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        self.stdout.write(f"\r[{bar}] {done}/{total}", ending="")
        if self.stdout.isatty():
            sys.stdout.flush()
