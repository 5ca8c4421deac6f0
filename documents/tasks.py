"""Celery tasks of ingestion: take a document id, call one service, declare the retry policy.

Retries: only transient errors (embedding server, vector store, broker), 3 attempts in all, exponential backoff
with full jitter. Anything else a service raises as a coded :class:`DocumentRejected` fails the document at once.
acks_late + reject_on_worker_lost (settings): a task killed with its worker is delivered again after the
broker's visibility timeout, which is above the hard time limit.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import structlog
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError

from docintel.errors import DocIntelError, DocumentRejected, TransientError
from documents.models import Document
from documents.services import ingest

log = structlog.get_logger(__name__)

MAX_RETRIES = 2  # 3 attempts in all
ACCESS_SYNC_MAX_RETRIES = 10  # backoff capped at 10 min: about an hour of store outage before giving up


def retry_countdown(retries: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, base * 2**retries]."""
    return random.uniform(0, settings.DOCINTEL_RETRY_BACKOFF_SECONDS * 2**retries)  # noqa: S311 - jitter, not crypto


def _run(task: Task[Any, Any], step: Callable[..., ingest.NextStep], document_id: int, **kwargs: Any) -> str:
    structlog.contextvars.bind_contextvars(document_id=document_id)
    try:
        return step(document_id=document_id, **kwargs).value
    except (TransientError, BrokerError) as exc:
        if task.request.retries >= MAX_RETRIES:
            code = exc.code if isinstance(exc, DocIntelError) else "broker_unavailable"
            ingest.document_fail(
                document_id=document_id, code=code, message=f"{exc} (after {MAX_RETRIES + 1} attempts)"
            )
            return ingest.NextStep.NONE.value
        log.warning("task_retry", retries=task.request.retries, error_type=type(exc).__name__)
        raise task.retry(exc=exc, countdown=retry_countdown(task.request.retries)) from exc
    except DocumentRejected as exc:
        ingest.document_fail(document_id=document_id, code=exc.code, message=exc.message)
        return ingest.NextStep.NONE.value
    except SoftTimeLimitExceeded:
        ingest.document_fail(
            document_id=document_id,
            code="timeout",
            message=f"The step took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s.",
        )
        return ingest.NextStep.NONE.value


def _enqueue_next(document_id: int, step: str) -> None:
    if step == ingest.NextStep.OCR:
        from documents.services.ocr import ocr_route  # noqa: PLC0415

        queue, engine = ocr_route()
        process_ocr.apply_async(args=(document_id,), kwargs={"engine": engine}, queue=queue)
    elif step == ingest.NextStep.EMBED:
        generate_embeddings.apply_async(args=(document_id,))


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def ingest_document(self: Task[Any, Any], document_id: int) -> str:
    """Parse a queued document; then OCR or embeddings."""
    step = _run(self, ingest.document_ingest, document_id)
    _enqueue_next(document_id, step)
    return step


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def process_ocr(self: Task[Any, Any], document_id: int, engine: str = "tesseract") -> str:
    """OCR the pages without a text layer (or an image); then embeddings."""
    step = _run(self, ingest.document_ocr, document_id, engine=engine)
    _enqueue_next(document_id, step)
    return step


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def generate_embeddings(self: Task[Any, Any], document_id: int) -> str:
    """Embed and index the chunks; the document completes."""
    return _run(self, ingest.document_embed, document_id)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def delete_document_cascade(self: Task[Any, Any], document_id: int) -> bool:
    """Remove vectors, chunks, file and row of a document marked for deletion."""
    structlog.contextvars.bind_contextvars(document_id=document_id)
    try:
        return ingest.document_delete_cascade(document_id=document_id)
    except (TransientError, BrokerError) as exc:
        # never give up on a delete: an orphan point would stay readable; the row stays hidden meanwhile
        raise self.retry(exc=exc, countdown=retry_countdown(min(self.request.retries, 6)), max_retries=None) from exc


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def delete_version_points(self: Task[Any, Any], document_id: int) -> bool:
    """Remove the points of a version that another version superseded (the index holds the current one only)."""
    from documents.services.versions import version_points_delete  # noqa: PLC0415

    structlog.contextvars.bind_contextvars(document_id=document_id)
    try:
        return version_points_delete(document_id=document_id)
    except (TransientError, BrokerError) as exc:
        # never give up: the points would stay in the index (hydration keeps them out of answers meanwhile)
        raise self.retry(exc=exc, countdown=retry_countdown(min(self.request.retries, 6)), max_retries=None) from exc


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    autoretry_for=(TransientError, BrokerError),
    retry_backoff=max(1, round(settings.DOCINTEL_RETRY_BACKOFF_SECONDS)),
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=ACCESS_SYNC_MAX_RETRIES,
)
def sync_document_access(self: Task[Any, Any], document_id: int) -> bool:
    """Write the document's current access groups onto its vectors; a store outage is retried with backoff.

    The groups are read when the task runs, so a retry (or a later change) always writes the latest ones.
    """
    structlog.contextvars.bind_contextvars(document_id=document_id)
    document = Document.objects.filter(pk=document_id, deleted_at__isnull=True).first()
    if document is None:
        log.info("access_sync_skipped_missing_document")
        return False
    if self.request.retries:
        log.info("access_sync_retry", retries=self.request.retries)
    ingest.document_access_sync(document=document)
    return True


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    autoretry_for=(TransientError, BrokerError),
    retry_backoff=max(1, round(settings.DOCINTEL_RETRY_BACKOFF_SECONDS)),
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=ACCESS_SYNC_MAX_RETRIES,
)
def sync_chunk_quarantine(self: Task[Any, Any], chunk_id: int) -> bool:
    """Write a passage's quarantine state onto its vector (released or quarantined by a librarian); retried."""
    from documents.services.quarantine import chunk_quarantine_sync  # noqa: PLC0415

    structlog.contextvars.bind_contextvars(chunk_id=chunk_id)
    return chunk_quarantine_sync(chunk_id=chunk_id)
