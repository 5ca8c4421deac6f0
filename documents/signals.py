"""The documents app's Celery hooks: reconcile the vector store once each time a worker starts.

A worker that died between a version switch and enqueueing the deletion of the old points (or between a deletion
request and its cascade) left points nothing else would delete; the next worker to start cleans them up. Kept out
of ``documents/tasks.py`` and ``docintel/celery.py``; connected from ``DocumentsConfig.ready``.

There is no Celery beat in this project, so nothing runs it daily: run ``manage.py vectorstore_reconcile`` from
cron for that.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task, shared_task
from celery.signals import worker_ready
from kombu.exceptions import OperationalError

from docintel.errors import VectorStoreUnavailable

log = structlog.get_logger(__name__)

RECONCILE_MAX_RETRIES = 5


@shared_task(bind=True, name="documents.reconcile_vectorstore", acks_late=True, max_retries=RECONCILE_MAX_RETRIES)
def reconcile_vectorstore(self: Task[Any, Any], dry_run: bool = False) -> dict[str, Any]:
    """Delete the vector store's orphan points (``documents.services.reconcile``); retried while the store is down.

    Args:
        self: the bound task (for its retries).
        dry_run: only count.

    Returns:
        The report's counts (``ReconcileReport.as_log``) and ``deletions_resumed``: the documents marked for deletion
        long ago whose cascade was sent again (:func:`documents.services.reconcile.deletions_resume`).
    """
    from documents.services.reconcile import deletions_resume, vectorstore_reconcile  # noqa: PLC0415 - qdrant-client

    try:
        report = vectorstore_reconcile(dry_run=dry_run).as_log()
        report["deletions_resumed"] = 0 if dry_run else len(deletions_resume())
        return report
    except VectorStoreUnavailable as exc:  # a worker may start before the store is up
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@worker_ready.connect
def reconcile_on_worker_start(**_: Any) -> None:
    """Enqueue one reconciliation on this worker's default queue when the worker starts consuming."""
    try:
        result = reconcile_vectorstore.apply_async()
    except OperationalError as exc:  # broker down: the next start (or the command) reconciles
        log.error("task_enqueue_failed", task="reconcile_vectorstore", error=str(exc))
        return
    log.info("vectorstore_reconcile_enqueued", task_id=result.id)
