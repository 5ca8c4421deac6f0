"""Ingestion on real servers: PostgreSQL test database, Redis broker, a real Celery worker, vector store, e5."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest


def worker_env(*, queue: str, media: Path, qdrant_url: str, embedding_url: str, **extra: str) -> dict[str, str]:
    """Environment of a worker that uses the pytest test database and this session's servers."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        "DEBUG": "true",
        "DATABASE_URL": url,
        "DB_POOL_ENABLED": "false",
        "REDIS_URL": os.environ["REDIS_URL"],
        "MEDIA_ROOT": str(media),
        "QDRANT_URL": qdrant_url,
        "EMBEDDING_BASE_URL": embedding_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DOCINTEL_RETRY_BACKOFF_SECONDS": "0.5",
        "LOG_LEVEL": "INFO",
        "DOCINTEL_READ_DOT_ENV": "0",
        **extra,
    }


@pytest.fixture(scope="session")
def ingest_media(tmp_path_factory) -> Path:
    return Path(tmp_path_factory.mktemp("ingest-media"))


@pytest.fixture(scope="session")
def ingest_queue() -> str:
    return f"ingest-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def ingestion_worker(
    django_db_setup, django_db_blocker, qdrant_url, embedding_url, ingest_media, ingest_queue, server_logs
):
    """One Celery worker for the session, consuming a private queue (other test runs share Redis DB 15)."""
    from devstack import localservers

    env = worker_env(queue=ingest_queue, media=ingest_media, qdrant_url=qdrant_url, embedding_url=embedding_url)
    proc = localservers.celery_worker(env=env, log_dir=server_logs, queues=ingest_queue, name="ingest-worker")
    proc.start(timeout=120)
    yield proc
    proc.stop()


@pytest.fixture
def ingest_settings(settings, ingest_media, qdrant_url, embedding_url, ingest_queue):
    """This process enqueues to the worker's queue and sees the same files and servers."""
    from docintel.celery import app

    settings.MEDIA_ROOT = ingest_media
    settings.QDRANT_URL = qdrant_url
    settings.EMBEDDING_BASE_URL = embedding_url
    settings.CELERY_TASK_DEFAULT_QUEUE = ingest_queue
    before = app.conf.task_default_queue
    app.conf.task_default_queue = ingest_queue
    yield settings
    app.conf.task_default_queue = before


def wait_terminal(ids, *, timeout: float = 300.0, gone_ok: bool = False):
    """Poll until every document is completed or failed (or deleted when ``gone_ok``)."""
    from documents.models import Document

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {d.pk: d for d in Document.objects.filter(pk__in=ids)}
        if gone_ok and not rows:
            return {}
        if not gone_ok and len(rows) == len(ids) and all(d.is_terminal for d in rows.values()):
            return rows
        time.sleep(0.5)
    left = list(Document.objects.filter(pk__in=ids).values("id", "status", "stage", "progress", "error_code"))
    raise AssertionError(f"documents not finished in {timeout:.0f} s: {left}")
