"""Access-group changes reach the vector payload through a retried task (issue 13, row 7); strict ``?ids=``."""

from __future__ import annotations

from typing import Any

import pytest

from docintel.errors import TransientError, VectorStoreUnavailable
from documents import tasks
from documents.models import Document
from documents.services import ingest
from tests.factories import make_document

pytestmark = pytest.mark.django_db


def _change(lib_client, doc, groups):
    return lib_client.post(
        f"/admin/documents/document/{doc.pk}/change/",
        {
            "title": doc.title,
            "language": "en",
            "access_groups": [g.pk for g in groups],
            "chunks-TOTAL_FORMS": "0",
            "chunks-INITIAL_FORMS": "0",
            "chunks-MIN_NUM_FORMS": "0",
            "chunks-MAX_NUM_FORMS": "1000",
        },
    )


def test_an_access_change_in_the_admin_enqueues_the_sync_task_after_commit(
    client, librarian, finance, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.sync_document_access, "delay", lambda *args, **kwargs: sent.append(args))
    doc = make_document()
    client.force_login(librarian)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert _change(client, doc, [finance]).status_code == 302
    assert sent == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert sent == [(doc.pk,)]


def test_the_sync_task_retries_a_store_outage_with_backoff_and_jitter(finance, monkeypatch):
    task: Any = tasks.sync_document_access
    assert TransientError in task.autoretry_for
    assert task.retry_backoff and task.retry_jitter and task.max_retries >= 3
    doc = make_document(groups=[finance])
    calls = []

    def flaky(*, document):
        calls.append(sorted(document.access_groups.values_list("id", flat=True)))
        if len(calls) < 3:
            raise VectorStoreUnavailable("store down")

    monkeypatch.setattr(ingest, "document_access_sync", flaky)
    result = task.apply(args=(doc.pk,))
    assert result.successful() and result.result is True
    assert calls == [[finance.pk]] * 3


def test_the_sync_task_gives_up_on_a_deleted_document_without_error(monkeypatch):
    monkeypatch.setattr(ingest, "document_access_sync", lambda **kwargs: pytest.fail("no sync expected"))
    assert tasks.sync_document_access.apply(args=(424242,)).result is False


def test_the_sync_task_reaches_a_real_store_that_is_down_and_retries(finance, settings):
    from devstack import localservers

    settings.QDRANT_URL = f"http://127.0.0.1:{localservers.free_port()}"  # nothing listens there
    doc = make_document(groups=[finance])
    result = tasks.sync_document_access.apply(args=(doc.pk,), retries=tasks.ACCESS_SYNC_MAX_RETRIES - 1)
    assert result.failed() and isinstance(result.result, VectorStoreUnavailable)


def test_progress_feed_ignores_ids_that_are_not_plain_integers(client, librarian):
    # before: "²".isdigit() is true, int("²") raised ValueError -> 500
    doc = make_document(status=Document.Status.PROCESSING, progress=40)
    client.force_login(librarian)
    response = client.get(f"/admin/documents/document/progress/?ids={doc.pk},²,٣, 1_0")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["documents"]] == [doc.pk]


@pytest.mark.parametrize("name", ["Legal", "Νομική υπηρεσία"])
def test_document_access_set_sets_the_groups_of_the_family_audits_and_syncs_after_commit(
    name, rf, librarian, finance, monkeypatch, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from audit.models import AuditLog
    from docintel.context import ActorContext
    from documents.services.lifecycle import document_access_set

    new_group = Group.objects.create(name=name)
    sent: list[int] = []
    monkeypatch.setattr(tasks.sync_document_access, "delay", sent.append)
    v1 = make_document(groups=[finance], is_current=False, superseded_at=timezone.now())
    v2 = make_document(groups=[finance], version_of=v1, version=2)
    request = rf.post("/admin/", REMOTE_ADDR="10.0.0.9", HTTP_USER_AGENT="ua")
    request.user, request.request_id = librarian, "req-access"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        changed = document_access_set(document=v2, groups=[new_group, finance], ctx=ActorContext.from_request(request))
    assert sorted(changed) == sorted([v1.pk, v2.pk])
    for version in (v1, v2):
        assert sorted(version.access_groups.values_list("name", flat=True)) == sorted([name, "Finance"])
    assert sent == []  # only after commit
    for callback in callbacks:
        callback()
    assert sorted(sent) == sorted([v1.pk, v2.pk])
    row = AuditLog.objects.get(action="document_access_changed")
    assert row.details == {"before": ["Finance"], "after": sorted([name, "Finance"])}
    assert (row.actor, row.ip_address, row.request_id, row.target_id) == (
        librarian,
        "10.0.0.9",
        "req-access",
        str(v2.pk),
    )
    # the same groups again: nothing written, nothing queued
    with django_capture_on_commit_callbacks(execute=True) as again:
        assert document_access_set(document=v2, groups=[finance, new_group], ctx=ActorContext.for_user(librarian)) == []
    assert again == [] and AuditLog.objects.filter(action="document_access_changed").count() == 1
