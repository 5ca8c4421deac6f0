"""A worker killed (SIGKILL) in the middle of a document: after restart the document completes exactly once."""

from __future__ import annotations

import io
import time
import uuid

import pytest

from docintel.context import ActorContext
from documents.models import Document
from documents.services import vectorstore
from documents.services.lifecycle import document_upload
from tests.integration.conftest import wait_terminal, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

VISIBILITY = 20  # above the hard time limit below, as in production (3600 > 1800)


def test_killed_worker_redelivers_and_completes_once(
    transactional_db, corpus, librarian, settings, ingest_media, qdrant_url, embedding_url, server_logs
):
    from devstack import localservers
    from docintel.celery import app

    queue = f"crash-test-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        queue=queue,
        media=ingest_media,
        qdrant_url=qdrant_url,
        embedding_url=embedding_url,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY),
        CELERY_TASK_SOFT_TIME_LIMIT="12",
        CELERY_TASK_TIME_LIMIT="15",
        CELERY_UNACKED_RESTORE_INTERVAL="2",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
    )
    settings.MEDIA_ROOT = ingest_media
    settings.QDRANT_URL = qdrant_url
    settings.EMBEDDING_BASE_URL = embedding_url
    before = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="crash-worker")
    try:
        worker.start(timeout=120)
        data = (corpus / "pdf/multi_page.pdf").read_bytes()
        doc = document_upload(
            fileobj=io.BytesIO(data), filename="redp.pdf", size=len(data), ctx=ActorContext.for_user(librarian)
        )
        deadline = time.monotonic() + 60
        while Document.objects.get(pk=doc.pk).status != "processing":
            assert time.monotonic() < deadline, "the worker never started the document"
            time.sleep(0.05)
        worker.kill()
        killed = Document.objects.get(pk=doc.pk)
        assert (killed.status, killed.attempts) == ("processing", 1)

        worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="crash-worker")
        worker.start(timeout=120)
        doc = wait_terminal([doc.pk], timeout=400)[doc.pk]
    finally:
        worker.stop()
        app.conf.task_default_queue = before
    assert doc.status == "completed", doc.error_message
    assert doc.ingest_info["chunks"] == doc.chunks.count()
    client = vectorstore.qdrant_client()
    points, _ = client.scroll(
        vectorstore.collection_name(), scroll_filter=vectorstore.document_filter(doc.pk), limit=10_000
    )
    ids = [str(p.id) for p in points]
    assert len(ids) == len(set(ids)) == doc.chunks.count()
    assert set(ids) == {str(v) for v in doc.chunks.values_list("vector_id", flat=True)}
