"""The ingestion task module: one shared definition, Celery's own retry of transient errors, the coded failure.

The tasks run eagerly (``Task.apply``): Celery re-applies a retried task at once, so the attempts can be counted;
the countdown Celery would wait for is checked on its own (exponential, full jitter, capped).
"""

from __future__ import annotations

from typing import Any

import pytest
from celery.utils.time import get_exponential_backoff_interval
from kombu.exceptions import OperationalError as BrokerError

from docintel.errors import DocumentRejected, EmbeddingUnavailable, TransientError, VectorStoreUnavailable
from documents import tasks
from documents.models import Document
from documents.services import ingest
from tests.factories import make_document

pytestmark = pytest.mark.django_db

ALL_TASKS = [
    tasks.ingest_document,
    tasks.process_ocr,
    tasks.generate_embeddings,
    tasks.delete_document_cascade,
    tasks.delete_version_points,
    tasks.sync_document_access,
    tasks.sync_chunk_quarantine,
]


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name.rsplit(".", 1)[-1])
def test_every_task_shares_one_definition(task, settings):
    t: Any = task
    assert t.acks_late and t.reject_on_worker_lost  # a task killed with its worker is delivered again
    assert (t.soft_time_limit, t.time_limit) == (settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT)
    assert TransientError in t.autoretry_for and BrokerError in t.autoretry_for
    assert t.retry_backoff == max(1, round(settings.DOCINTEL_RETRY_BACKOFF_SECONDS)) and t.retry_jitter


def test_retry_limits_per_kind_of_task():
    steps: list[Any] = [tasks.ingest_document, tasks.process_ocr, tasks.generate_embeddings]
    assert {t.max_retries for t in steps} == {tasks.MAX_RETRIES} == {2}  # 3 attempts in all
    deletes: list[Any] = [tasks.delete_document_cascade, tasks.delete_version_points]
    assert {t.max_retries for t in deletes} == {None}  # never give up: an orphan point would stay readable
    assert {t.retry_backoff_max for t in deletes} == {tasks.BACKOFF_BASE * 2**6}
    syncs: list[Any] = [tasks.sync_document_access, tasks.sync_chunk_quarantine]
    assert {(t.max_retries, t.retry_backoff_max) for t in syncs} == {(tasks.ACCESS_SYNC_MAX_RETRIES, 600)}


def test_the_countdown_is_exponential_with_full_jitter_and_capped():
    base = tasks.BACKOFF_BASE
    for retries in range(8):
        ceiling = min(tasks.DELETE_BACKOFF_MAX, base * 2**retries)
        seen = {
            get_exponential_backoff_interval(
                factor=base, retries=retries, maximum=tasks.DELETE_BACKOFF_MAX, full_jitter=True
            )
            for _ in range(300)
        }
        assert min(seen) >= 0 and max(seen) <= ceiling
        if ceiling >= 4:
            assert len(seen) > 2  # jittered, not a fixed delay


def _flaky(fails: int, exc: Exception, calls: list[int]):
    def step(*, document_id: int, **kwargs: Any) -> ingest.NextStep:
        calls.append(document_id)
        if len(calls) <= fails:
            raise exc
        return ingest.NextStep.NONE

    return step


@pytest.mark.parametrize("lang", ["en", "el"])
def test_a_transient_error_is_retried_and_the_third_attempt_succeeds(lang, monkeypatch):
    doc = make_document(status=Document.Status.PROCESSING, title="Policy" if lang == "en" else "Πολιτική")
    calls: list[int] = []
    message = "store down" if lang == "en" else "η αποθήκη δεν απαντά"
    monkeypatch.setattr(ingest, "document_embed", _flaky(2, VectorStoreUnavailable(message), calls))
    result = tasks.generate_embeddings.apply(args=(doc.pk,))
    assert result.successful() and result.result == "none"
    assert calls == [doc.pk] * 3
    doc.refresh_from_db()
    assert doc.status == Document.Status.PROCESSING and not doc.error_code


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (EmbeddingUnavailable("The embedding server is down."), "embedding_unavailable"),
        (VectorStoreUnavailable("Η αποθήκη διανυσμάτων δεν απαντά."), "vector_store_unavailable"),
        (BrokerError("broker gone"), "broker_unavailable"),
    ],
)
def test_after_three_attempts_the_document_fails_with_the_errors_code(exc, code, monkeypatch):
    doc = make_document(status=Document.Status.PROCESSING)
    calls: list[int] = []
    monkeypatch.setattr(ingest, "document_ingest", _flaky(99, exc, calls))
    enqueued: list[str] = []
    monkeypatch.setattr(tasks, "_enqueue_next", lambda document_id, step: enqueued.append(step))
    result = tasks.ingest_document.apply(args=(doc.pk,))
    assert result.successful() and result.result == "none"
    assert len(calls) == 3 and enqueued == ["none"]  # no next step after the failure
    doc.refresh_from_db()
    assert (doc.status, doc.error_code) == (Document.Status.FAILED, code)
    assert "(after 3 attempts)" in doc.error_message and str(exc) in doc.error_message


def test_a_rejected_document_fails_at_once_without_retry(monkeypatch):
    doc = make_document(status=Document.Status.PROCESSING)
    calls: list[int] = []
    rejected = DocumentRejected("Το αρχείο είναι κρυπτογραφημένο.", code="encrypted")
    monkeypatch.setattr(ingest, "document_ocr", _flaky(99, rejected, calls))
    monkeypatch.setattr(tasks, "_enqueue_next", lambda document_id, step: None)
    result = tasks.process_ocr.apply(args=(doc.pk,), kwargs={"engine": "tesseract"})
    assert result.successful() and result.result == "none" and len(calls) == 1
    doc.refresh_from_db()
    assert (doc.status, doc.error_code, doc.error_message) == (
        Document.Status.FAILED,
        "encrypted",
        "Το αρχείο είναι κρυπτογραφημένο.",
    )


def test_any_other_error_fails_the_task_and_is_not_retried(monkeypatch):
    doc = make_document(status=Document.Status.PROCESSING)
    calls: list[int] = []
    monkeypatch.setattr(ingest, "document_embed", _flaky(99, KeyError("bug"), calls))
    result = tasks.generate_embeddings.apply(args=(doc.pk,))
    assert result.failed() and isinstance(result.result, KeyError) and len(calls) == 1


def test_a_delete_is_retried_past_the_step_limit(monkeypatch):
    calls: list[int] = []

    def cascade(*, document_id: int) -> bool:
        calls.append(document_id)
        if len(calls) <= 5:
            raise VectorStoreUnavailable("3 points of the document are still in the vector store.")
        return True

    monkeypatch.setattr(ingest, "document_delete_cascade", cascade)
    result = tasks.delete_document_cascade.apply(args=(7,))
    assert result.successful() and result.result is True and calls == [7] * 6
