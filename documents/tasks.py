"""Celery tasks of ingestion: take a document id, call one service, declare the retry policy.

Every task is declared with :func:`ingestion_task`, one definition of what they share: ``acks_late`` +
``reject_on_worker_lost`` (a task killed with its worker is delivered again after the broker's visibility timeout,
which is above the hard time limit), the soft and hard time limits, and Celery's own retry of transient errors
(embedding server, vector store, broker: ``autoretry_for``) with exponential backoff and full jitter
(``retry_backoff`` = ``DOCINTEL_RETRY_BACKOFF_SECONDS`` as the base, ``retry_jitter``, ``retry_backoff_max``).

The three ingestion steps make 3 attempts in all; on the last one a transient error fails the document with its code
instead of being raised again. Anything else a service raises as a coded :class:`DocumentRejected` fails the
document at once. Deletes never give up (an orphan point would stay readable); access and quarantine syncs retry for
about an hour of store outage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError

from docintel.celery import DocIntelTask
from docintel.errors import DocIntelError, DocumentRejected, TransientError
from documents.models import Document
from documents.services import ingest

log = structlog.get_logger(__name__)

MAX_RETRIES = 2  # 3 attempts in all
ACCESS_SYNC_MAX_RETRIES = 10  # backoff capped at 10 min: about an hour of store outage before giving up
RETRIED = (TransientError, BrokerError)
# Celery counts the backoff in whole seconds (at least 1): countdown = randrange(min(max, base * 2**retries) + 1).
BACKOFF_BASE = max(1, round(settings.DOCINTEL_RETRY_BACKOFF_SECONDS))
BACKOFF_MAX = 600
# A delete's backoff stops growing after the 6th retry, as the hand-written one did (base * 2**min(retries, 6)).
DELETE_BACKOFF_MAX = BACKOFF_BASE * 2**6

TASK_OPTIONS: dict[str, Any] = {
    "base": DocIntelTask,  # enqueued after commit with delay_on_commit; a broker outage is logged, not raised
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "autoretry_for": RETRIED,
    "retry_backoff": BACKOFF_BASE,
    "retry_backoff_max": BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}


def ingestion_task(**overrides: Any) -> Callable[[Callable[..., Any]], Any]:
    """``shared_task`` with the options every ingestion task shares (:data:`TASK_OPTIONS`), some overridden.

    Args:
        **overrides: Celery task options that differ for this task (e.g. ``max_retries=None`` for a delete).

    Returns:
        The decorator that registers the function as a bound Celery task.
    """
    decorator: Callable[[Callable[..., Any]], Any] = shared_task(**{**TASK_OPTIONS, **overrides})
    return decorator


def _run(task: Task[Any, Any], step: Callable[..., ingest.NextStep], document_id: int, **kwargs: Any) -> str:
    """Run one ingestion step; map its failures to a failed document, or let Celery retry a transient one.

    Raises:
        TransientError, BrokerError: before the last attempt (``autoretry_for`` schedules the next one).
    """
    structlog.contextvars.bind_contextvars(document_id=document_id)
    try:
        return step(document_id=document_id, **kwargs).value
    except RETRIED as exc:
        if task.request.retries < MAX_RETRIES:
            log.warning("task_retry", retries=task.request.retries, error_type=type(exc).__name__)
            raise
        code = exc.code if isinstance(exc, DocIntelError) else "broker_unavailable"
        ingest.document_fail(document_id=document_id, code=code, message=f"{exc} (after {MAX_RETRIES + 1} attempts)")
        return ingest.NextStep.NONE.value
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
        from documents.services.ocr import ocr_route  # noqa: PLC0415 - OCR routing reads the worker's engines

        queue, engine = ocr_route()
        process_ocr.apply_async(args=(document_id,), kwargs={"engine": engine}, queue=queue)
    elif step == ingest.NextStep.EMBED:
        generate_embeddings.apply_async(args=(document_id,))


@ingestion_task()
def ingest_document(self: Task[Any, Any], document_id: int) -> str:
    """Parse a queued document; then OCR or embeddings."""
    step = _run(self, ingest.document_ingest, document_id)
    _enqueue_next(document_id, step)
    return step


@ingestion_task()
def process_ocr(self: Task[Any, Any], document_id: int, engine: str = "tesseract") -> str:
    """OCR the pages without a text layer (or an image); then embeddings.

    Args:
        self: The bound task (its request counts the retries).
        document_id: The document waiting for OCR.
        engine: The OCR engine this worker's queue was chosen for (``documents.services.ocr.ocr_route``).

    Returns:
        The next step enqueued (``embed``), or ``none``.
    """
    step = _run(self, ingest.document_ocr, document_id, engine=engine)
    _enqueue_next(document_id, step)
    return step


@ingestion_task()
def generate_embeddings(self: Task[Any, Any], document_id: int) -> str:
    """Embed and index the chunks; the document completes."""
    return _run(self, ingest.document_embed, document_id)


@ingestion_task(max_retries=None, retry_backoff_max=DELETE_BACKOFF_MAX)
def delete_document_cascade(self: Task[Any, Any], document_id: int) -> bool:
    """Remove vectors, chunks, file and row of a document marked for deletion.

    Never gives up on a transient error: an orphan point would stay readable; the row stays hidden meanwhile.
    """
    structlog.contextvars.bind_contextvars(document_id=document_id)
    return ingest.document_delete_cascade(document_id=document_id)


@ingestion_task(max_retries=None, retry_backoff_max=DELETE_BACKOFF_MAX)
def delete_version_points(self: Task[Any, Any], document_id: int) -> bool:
    """Remove the points of a version that another version superseded (the index holds the current one only).

    Never gives up on a transient error: the points would stay in the index (hydration keeps them out of answers
    meanwhile).
    """
    from documents.services.versions import version_points_delete  # noqa: PLC0415 - versions imports these tasks

    structlog.contextvars.bind_contextvars(document_id=document_id)
    return version_points_delete(document_id=document_id)


@ingestion_task(max_retries=ACCESS_SYNC_MAX_RETRIES)
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


@ingestion_task(max_retries=ACCESS_SYNC_MAX_RETRIES)
def sync_chunk_quarantine(self: Task[Any, Any], chunk_id: int) -> bool:
    """Write a passage's quarantine state onto its vector (released or quarantined by a librarian); retried."""
    from documents.services.quarantine import chunk_quarantine_sync  # noqa: PLC0415 - loads the guard rules

    structlog.contextvars.bind_contextvars(chunk_id=chunk_id)
    return chunk_quarantine_sync(chunk_id=chunk_id)
