"""Every task enqueues after commit through :class:`docintel.celery.DocIntelTask`; a broker outage loses no row."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError
from structlog.testing import capture_logs

from audit.models import AuditLog
from docintel.celery import DocIntelTask, app
from docintel.context import ActorContext
from documents import tasks
from documents.models import Document
from documents.services.lifecycle import document_upload
from review import tasks as review_tasks
from review.models import Replay
from review.services.replay import replay_request
from tests.review.conftest import EL, EN, make_answer

pytestmark = pytest.mark.django_db

TEXTS = {
    "en": "# Leave\n\nEvery employee has 25 days of paid leave.\n",
    "el": "# Άδειες\n\nΚάθε εργαζόμενος έχει 25 ημέρες άδεια.\n",
}


def _broker_down(*args: Any, **kwargs: Any) -> None:
    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_every_project_task_is_a_docintel_task():
    ours = {name: task for name, task in app.tasks.items() if name.startswith(("documents.", "review."))}
    assert {"documents.tasks.ingest_document", "review.tasks.replay_run"} <= set(ours)
    assert all(isinstance(task, DocIntelTask) for task in ours.values()), ours
    assert isinstance(review_tasks.replay_run, review_tasks.ReplayRunTask)


def test_nothing_is_sent_before_the_transaction_commits(librarian, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.sync_document_access, "delay", lambda *args: sent.append(args))
    monkeypatch.setattr(tasks.process_ocr, "apply_async", lambda *args, **options: sent.append((args, options)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        tasks.sync_document_access.delay_on_commit(7)
        tasks.process_ocr.apply_async_on_commit(args=(8,), kwargs={"engine": "surya"}, queue="ocr")
        assert sent == []
    assert sent == [] and len(callbacks) == 2
    for callback in callbacks:
        callback()
    assert sent == [(7,), (((8,), {"engine": "surya"}), {"queue": "ocr"})]


@pytest.mark.parametrize("lang", ["en", "el"])
def test_a_broker_outage_at_commit_is_logged_and_the_upload_stays_queued(
    lang, librarian, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.ingest_document, "delay", _broker_down)
    data = TEXTS[lang].encode()
    with capture_logs() as logs, django_capture_on_commit_callbacks(execute=True):
        document = document_upload(
            fileobj=io.BytesIO(data), filename=f"leave-{lang}.md", size=len(data), ctx=ActorContext.for_user(librarian)
        )  # no exception: the upload committed, the librarian is told it is queued
    document.refresh_from_db()
    assert document.status == Document.Status.QUEUED and document.uploaded_by == librarian
    assert AuditLog.objects.filter(action="document_uploaded", target_id=str(document.pk)).exists()
    failed = [e for e in logs if e["event"] == "task_enqueue_failed"]
    assert failed == [
        {
            "event": "task_enqueue_failed",
            "log_level": "error",
            "task": "documents.tasks.ingest_document",
            "task_args": [document.pk],
            "error": "Error 111 connecting to 127.0.0.1:6379. Connection refused.",
        }
    ]


def test_an_error_that_is_not_the_broker_is_not_swallowed(librarian, django_capture_on_commit_callbacks, monkeypatch):
    def broken(*args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(tasks.delete_document_cascade, "delay", broken)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        tasks.delete_document_cascade.delay_on_commit(1)


@pytest.mark.parametrize("case", [EN, EL], ids=["en", "el"])
def test_a_replay_the_broker_refused_fails_with_a_code_instead_of_waiting(
    case, reader, librarian, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(review_tasks.replay_run, "delay", _broker_down)
    stored = make_answer(reader, case)
    with django_capture_on_commit_callbacks(execute=True):
        replay = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    replay.refresh_from_db()
    assert replay.status == Replay.Status.FAILED and replay.error_code == "broker_unavailable"
    assert "Connection refused" in replay.error_message
    assert replay.requested_by == librarian
