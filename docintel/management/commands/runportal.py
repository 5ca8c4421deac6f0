"""Start the whole portal on embedded defaults: model servers, vector store, Celery worker and Daphne.

A dependency whose URL points elsewhere (``LLM_BASE_URL``, ``EMBEDDING_BASE_URL``, ``QDRANT_URL`` on another host or
an already-open port) is used as it is, not started. Ctrl-C stops everything this command started.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devstack import localservers


def _local_port(url: str) -> int | None:
    """The port of a URL on this machine that nothing listens on yet (so we should start it), else None."""
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost"):
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return None if localservers.port_open(port) else port


class Command(BaseCommand):
    """``make run``: the whole portal on one machine, each local dependency started only when nothing serves it yet."""

    help = "Start DocIntel (web, worker, local model servers, vector store) on http://127.0.0.1:8000."

    def add_arguments(self, parser: Any) -> None:
        """The web port, the threads of each local model server and the CPU niceness of background ingestion."""
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=1, help="threads per local model server")
        parser.add_argument(
            "--ingest-nice", type=int, default=10, help="CPU niceness of the worker and its embedding server (0-19)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Start the planned processes in order, wait until Ctrl-C (or one of them dies), then stop them in reverse.

        Raises:
            CommandError: the web port is taken, or a process failed to start or get ready (those already started
                are stopped first).
        """
        log_dir = settings.VAR_DIR / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        (settings.VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)
        if localservers.port_open(options["port"]):
            raise CommandError(f"Port {options['port']} is in use; is the portal already running?")
        started: list[localservers.ManagedProcess] = []
        plan: list[localservers.ManagedProcess] = []
        if (port := _local_port(settings.LLM_BASE_URL)) is not None:
            plan.append(localservers.llm_server(port=port, threads=options["threads"], log_dir=log_dir))
        worker_env: dict[str, str] = {}
        if (port := _local_port(settings.EMBEDDING_BASE_URL)) is not None:
            plan.append(localservers.embedding_server(port=port, threads=options["threads"], log_dir=log_dir))
            # Ingestion embeds through its own server at the worker's lower priority, so a reader's query embedding
            # never waits behind a document's chunks (README, "CPU on the embedded default").
            ingest_port = localservers.free_port()
            plan.append(
                localservers.embedding_server(
                    port=ingest_port, threads=options["threads"], log_dir=log_dir, name="embeddings-ingest",
                    nice=options["ingest_nice"],
                )
            )  # fmt: skip
            worker_env["EMBEDDING_BASE_URL"] = f"http://127.0.0.1:{ingest_port}/v1"
        vectorstore = getattr(localservers, "vectorstore_server", None)
        if vectorstore is not None and (port := _local_port(settings.QDRANT_URL)) is not None:
            if not settings.QDRANT_API_KEY:  # our own store: a key for it, inherited by the worker and Daphne
                settings.QDRANT_API_KEY = os.environ["QDRANT_API_KEY"] = localservers.vectorstore_api_key(
                    settings.VAR_DIR
                )
            plan.append(
                vectorstore(port=port, path=settings.QDRANT_PATH, log_dir=log_dir, api_key=settings.QDRANT_API_KEY)
            )
        plan.append(
            localservers.celery_worker(log_dir=log_dir, queues="default", env=worker_env, nice=options["ingest_nice"])
        )
        plan.append(localservers.daphne_server(port=options["port"], log_dir=log_dir))
        try:
            for process in plan:
                self.stdout.write(f"starting {process.name} (log: {process.log_path})")
                started.append(process.start(timeout=180))
        except (RuntimeError, TimeoutError) as exc:
            for process in reversed(started):
                process.stop()
            raise CommandError(str(exc)) from exc

        self.stdout.write(self.style.SUCCESS(f"\nDocIntel is running on http://127.0.0.1:{options['port']}/"))
        self.stdout.write(f"  back-office: http://127.0.0.1:{options['port']}/admin/   logs: {log_dir}")
        self.stdout.write("  Ctrl-C stops it.")
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while not stop.wait(2.0):
            dead = [p.name for p in started if p.process is not None and p.process.poll() is not None]
            if dead:
                self.stderr.write(f"stopped unexpectedly: {', '.join(dead)}; see {log_dir}")
                break
        for process in reversed(started):
            process.stop()
        self.stdout.write("DocIntel stopped.")
