"""``manage.py vectorstore``: serve the embedded store (Qdrant Edge) over Qdrant's REST API (embedded mode).

The API key is ``QDRANT_API_KEY`` (from the environment, never the command line, so ``ps`` does not show it).
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    """``manage.py vectorstore``: serve the embedded store until SIGINT or SIGTERM."""

    help = "Serve the embedded vector store (Qdrant Edge) on a Qdrant-compatible REST endpoint."
    requires_system_checks: list[str] = []  # the store needs no database: the model checks would connect to one

    def add_arguments(self, parser: CommandParser) -> None:
        """The command's options: ``--host`` (127.0.0.1), ``--port`` (6333) and ``--path`` (``QDRANT_PATH``)."""
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=6333)
        parser.add_argument("--path", default=str(settings.QDRANT_PATH))

    def handle(self, *args: Any, **options: Any) -> None:
        """Serve the store (blocks); the API key is ``QDRANT_API_KEY``."""
        from devstack.vectorstore import StoreInUse  # noqa: PLC0415 - heavy: the store loads qdrant-edge
        from devstack.vectorstore.server import vectorstore_serve  # noqa: PLC0415 - as above

        signal.signal(signal.SIGTERM, _stop)
        try:
            vectorstore_serve(
                host=options["host"], port=options["port"], path=Path(options["path"]), api_key=settings.QDRANT_API_KEY
            )
        except StoreInUse as exc:  # a second store on the same directory: the message, not a traceback
            raise CommandError(exc.message) from exc
