"""Document versions (issue 15 part 2): upload, the switch to current, restore, duplicates, delete, the admin.

The switch tests run the real ingestion steps (eager Celery, in this process) on the real vector store and
embedding server, and search between every step of the switch as a reader would, from another connection.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditLog
from docintel.context import ActorContext
from docintel.errors import DocumentBusy, DocumentRejected, DuplicateDocument, VectorStoreUnavailable, VersionConflict
from documents import tasks
from documents.models import Document
from documents.services import vectorstore, versions
from documents.services.lifecycle import (
    document_delete,
    document_reingest,
    document_upload,
    document_version_restore,
    document_version_upload,
)
from tests.factories import make_chunk, make_document

TEXTS = {
    "en": (
        "Kestrel reservoir.\n\nThe Kestrel reservoir dam is 71 metres high and was designed by Maria Lindqvist.\n",
        "Kestrel reservoir.\n\nThe Kestrel reservoir dam is 84 metres high since it was raised in 2024.\n",
        "How high is the Kestrel reservoir dam?",
    ),
    "el": (
        "Ταμιευτήρας Κέστρελ.\n\nΤο φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 71 μέτρα και το σχεδίασε η Μαρία "
        "Λίντκβιστ.\n",
        "Ταμιευτήρας Κέστρελ.\n\nΤο φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 84 μέτρα από την ανύψωσή του το 2024.\n",
        "Τι ύψος έχει το φράγμα του ταμιευτήρα Κέστρελ;",
    ),
}


def _upload(text: str, name: str, user, groups=()) -> Document:
    data = text.encode()
    return document_upload(
        fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(user), access_groups=groups
    )


def _new_version(document: Document, text: str, name: str, user, **kwargs: Any) -> Document:
    data = text.encode()
    return document_version_upload(
        document=document,
        fileobj=io.BytesIO(data),
        filename=name,
        size=len(data),
        ctx=ActorContext.for_user(user),
        **kwargs,
    )


def _media_files(settings) -> list[str]:
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- rows and querysets -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_only_the_current_version_is_visible_to_everyone_and_the_admin_lists_all(librarian, reader, superuser, finance):
    v1 = make_document(groups=[finance], title="Tariffs 2025")
    v2 = make_document(groups=[finance], title="Tariffs 2026", version_of=v1, version=2, is_current=False)
    assert v2.version_state == "pending" and v1.version_state == "current" and v2.family_id == v1.pk == v1.family_id
    for user in (librarian, reader, superuser):
        assert list(Document.objects.visible_to(user)) == [v1]
    assert list(Document.objects.active()) == [v1]
    assert list(Document.objects.versions_visible_to(reader)) == [v1]
    assert set(Document.objects.versions_visible_to(librarian)) == {v1, v2}
    assert list(Document.objects.family_of(v2)) == [v1, v2]

    now = timezone.now()
    Document.objects.filter(pk=v1.pk).update(is_current=False, superseded_at=now)
    Document.objects.filter(pk=v2.pk).update(is_current=True)
    assert [d.pk for d in Document.objects.visible_to(reader)] == [v2.pk]
    assert [d.pk for d in Document.objects.visible_to(librarian)] == [v2.pk]
    assert Document.objects.get(pk=v1.pk).version_state == "superseded"
    assert Document.objects.not_deleted().count() == 2


@pytest.mark.django_db
def test_the_database_holds_one_current_and_one_pending_version_per_family():
    v1 = make_document()
    make_document(version_of=v1, version=2, is_current=False)
    with pytest.raises(IntegrityError, match="document_one_current_version"), transaction.atomic():
        make_document(version_of=v1, version=3, is_current=True)  # a second current version
    with pytest.raises(IntegrityError, match="document_one_pending_version"), transaction.atomic():
        make_document(version_of=v1, version=3, is_current=False)  # a second pending version
    with pytest.raises(IntegrityError, match="document_version_unique"), transaction.atomic():
        make_document(version_of=v1, version=2, is_current=False, superseded_at=timezone.now())  # number taken


# --- upload of a new version ------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "el"])
def test_a_new_version_is_pending_inherits_the_groups_and_is_audited(
    lang, librarian, finance, legal, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.ingest_document, "delay", lambda *args: sent.append(args))
    old_text, new_text, _ = TEXTS[lang]
    name = "tariffs.txt" if lang == "en" else "τιμολόγια.txt"
    with django_capture_on_commit_callbacks(execute=True):
        v1 = _upload(old_text, name, librarian, [finance, legal])
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        v2 = _new_version(v1, new_text, name, librarian)
    assert sent == [(v2.pk,)]  # ingested after commit
    v2.refresh_from_db()
    state = (v2.version, v2.version_of_id, v2.is_current, v2.superseded_at, v2.status)
    assert state == (2, v1.pk, False, None, "queued")
    assert v2.title == v1.title and v2.original_filename == name and v2.uploaded_by == librarian
    assert set(v2.access_groups.all()) == {finance, legal}
    assert Document.objects.get(pk=v1.pk).is_current  # the old version stays current until the switch
    row = AuditLog.objects.get(action="document_version_uploaded")
    assert (row.actor, row.target_id) == (librarian, str(v2.pk))
    assert row.details["version"] == 2 and row.details["current_document_id"] == v1.pk
    assert row.details["filename"] == name
    v3_text = new_text + "\n3\n"
    with pytest.raises(DocumentBusy) as busy:  # v2 is still being ingested
        _new_version(v2, v3_text, name, librarian)
    assert busy.value.detail["document_id"] == v2.pk
    assert Document.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "el"])
def test_an_identical_file_is_refused_with_a_link_to_it_whether_current_or_old(lang, librarian, settings):
    old_text, new_text, _ = TEXTS[lang]
    v1 = _upload(old_text, "a.txt", librarian)
    files_before = _media_files(settings)
    with pytest.raises(DuplicateDocument) as same_as_current:
        _new_version(v1, old_text, "again.txt", librarian)
    assert same_as_current.value.code == "duplicate_document"
    assert same_as_current.value.detail["document_id"] == v1.pk
    v2 = _new_version(v1, new_text, "b.txt", librarian)
    now = timezone.now()
    Document.objects.filter(pk=v1.pk).update(is_current=False, superseded_at=now)
    Document.objects.filter(pk=v2.pk).update(is_current=True, status="completed")
    files_before = _media_files(settings)
    for attempt in (
        lambda: _new_version(v2, old_text, "v1-again.txt", librarian),  # a version identical to an old one
        lambda: _upload(old_text, "v1-as-new-document.txt", librarian),  # a new document identical to an old version
    ):
        with pytest.raises(DuplicateDocument) as refused:
            attempt()
        assert refused.value.detail["document_id"] == v1.pk
        assert refused.value.detail["version"] == 1 and refused.value.detail["current_document_id"] == v2.pk
        assert "version 1" in refused.value.message
    assert Document.objects.count() == 2 and _media_files(settings) == files_before  # nothing stored


@pytest.mark.django_db
def test_a_failed_pending_version_makes_way_for_a_new_one(librarian, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.ingest_document, "delay", lambda pk: sent.append(("ingest", pk)))
    monkeypatch.setattr(tasks.delete_version_points, "delay", lambda pk: sent.append(("points", pk)))
    v1 = _upload("first text of the handbook", "h.txt", librarian)
    v2 = _new_version(v1, "second text of the handbook", "h.txt", librarian)
    v2.mark_failed(code="empty_document", message="nothing")
    with django_capture_on_commit_callbacks(execute=True):
        v3 = _new_version(v1, "third text of the handbook", "h.txt", librarian)
    v2.refresh_from_db()
    assert v2.version_state == "superseded" and v3.version == 3 and v3.version_state == "pending"
    assert sent == [("points", v2.pk), ("ingest", v3.pk)]  # the failed one's staged points are removed


@pytest.mark.django_db
def test_e_mails_and_archives_have_no_versions(librarian, corpus):
    data = next(corpus.glob("eml/*.eml")).read_bytes() if list(corpus.glob("eml/*.eml")) else None
    v1 = _upload("plain text document about tides", "t.txt", librarian)
    mail = data or b"From: a@example.com\r\nTo: b@example.com\r\nSubject: Tides\r\n\r\nThe tide is high.\r\n"
    with pytest.raises(DocumentRejected) as refused:
        document_version_upload(
            document=v1,
            fileobj=io.BytesIO(mail),
            filename="tides.eml",
            size=len(mail),
            ctx=ActorContext.for_user(librarian),
        )
    assert refused.value.code == "version_unsupported_type"
    assert Document.objects.count() == 1


# --- restore, re-ingest, delete ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_restore_requeues_the_old_version_for_embedding_and_refuses_what_it_cannot(
    librarian, finance, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.generate_embeddings, "delay", lambda pk: sent.append(("embed", pk)))
    monkeypatch.setattr(tasks.ingest_document, "delay", lambda pk: sent.append(("ingest", pk)))
    now = timezone.now()
    v1 = make_document(groups=[finance], is_current=False, superseded_at=now)
    make_chunk(v1, 0, "The dam is 71 metres high.")
    v2 = make_document(groups=[finance], version_of=v1, version=2)
    with pytest.raises(VersionConflict) as current:
        document_version_restore(document=v2, ctx=ActorContext.for_user(librarian))
    assert current.value.code == "version_conflict"
    with pytest.raises(VersionConflict):  # a superseded version is restored, not re-ingested
        document_reingest(document=v1, ctx=ActorContext.for_user(librarian))

    with django_capture_on_commit_callbacks(execute=True):
        restored = document_version_restore(document=v1, ctx=ActorContext.for_user(librarian))
    assert sent == [("embed", v1.pk)]
    assert (restored.version_state, restored.status, restored.stage) == ("pending", "queued", "embedding")
    assert Document.objects.get(pk=v2.pk).is_current  # current until v1 is indexed again
    row = AuditLog.objects.get(action="document_version_restore_requested")
    assert row.actor == librarian and row.details["current_document_id"] == v2.pk and row.details["reembed"]
    with pytest.raises(DocumentBusy):  # already being restored
        document_version_restore(document=v1, ctx=ActorContext.for_user(librarian))


@pytest.mark.django_db
def test_deleting_any_version_deletes_every_version(librarian, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(tasks.delete_document_cascade, "delay", sent.append)
    v1 = make_document(is_current=False, superseded_at=timezone.now())
    v2 = make_document(version_of=v1, version=2)
    v3 = make_document(version_of=v1, version=3, is_current=False)
    other = make_document()
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=v3, ctx=ActorContext.for_user(librarian))
    assert sorted(sent) == sorted([v1.pk, v2.pk, v3.pk])
    assert Document.objects.not_deleted().get() == other
    assert AuditLog.objects.filter(action="document_delete_requested").count() == 3


# --- the switch on the real store -------------------------------------------------------------------------------
@pytest.fixture
def eager(settings, qdrant_url, embedding_url) -> Iterator[Any]:
    """Tasks run inline (eager) against the real vector store and embedding server, in a fresh collection."""
    from docintel.celery import tasks_inline

    settings.QDRANT_URL = qdrant_url
    settings.EMBEDDING_BASE_URL = embedding_url
    settings.QDRANT_COLLECTION_PREFIX = f"v{uuid.uuid4().hex[:10]}"
    with tasks_inline():
        yield settings


def _search(user, question: str) -> set[int]:
    """The documents a reader's hybrid search returns right now (another connection: only committed state)."""
    from chat.services.retrieval import passages_retrieve

    result = asyncio.run(passages_retrieve(user=user, text=question, top_k=5))
    return {p.document_id for p in result.passages}


def _raw_search(user, question: str) -> set[int]:
    """The documents of the points the store itself returns to the reader's filter (before any hydration)."""
    from documents.services.embeddings import embed_query

    hits = vectorstore.qdrant_client().query_points(
        vectorstore.collection_name(),
        query=embed_query(question),
        using=vectorstore.DENSE,
        query_filter=vectorstore.permission_filter(group_ids=sorted(user.group_ids)),
        limit=20,
        with_payload=True,
    )
    return {int((h.payload or {})["document_id"]) for h in hits.points}


def _point_docs(*document_ids: int) -> dict[int, list[dict[str, Any]]]:
    client = vectorstore.qdrant_client()
    out = {}
    for document_id in document_ids:
        records, _ = client.scroll(
            vectorstore.collection_name(),
            scroll_filter=vectorstore.document_filter(document_id),
            limit=1000,
            with_payload=True,
        )
        out[document_id] = [r.payload or {} for r in records]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "el"])
def test_the_switch_searches_nothing_twice_and_misses_nothing_then_restore_switches_back(
    lang, transactional_db, eager, librarian, reader, finance, monkeypatch
):
    old_text, new_text, question = TEXTS[lang]
    v1 = _upload(old_text, f"dam-{lang}.txt", librarian, [finance])  # ingested inline
    v1.refresh_from_db()
    assert v1.status == "completed", v1.error_message
    assert _search(reader, question) == {v1.pk}

    seen: list[tuple[str, set[int]]] = []
    raw: list[set[int]] = []

    def observe(label: str) -> None:
        seen.append((label, _search(reader, question)))
        raw.append(_raw_search(reader, question))

    def wrap(module: Any, name: str) -> None:
        real = getattr(module, name)

        def spy(**kwargs: Any) -> Any:
            observe(f"before {name}")
            out = real(**kwargs)
            observe(f"after {name}")
            return out

        monkeypatch.setattr(module, name, spy)

    for name in ("points_replace", "points_set_staged", "points_delete_document"):
        wrap(vectorstore, name)

    v2 = _new_version(v1, new_text, f"dam-{lang}-2026.txt", librarian)  # ingested and switched inline
    v2.refresh_from_db()
    v1.refresh_from_db()
    assert (v2.status, v2.version_state, v1.version_state) == ("completed", "current", "superseded"), seen
    labels = [label for label, _ in seen]
    assert labels == [
        "before points_replace",
        "after points_replace",  # v2's points written, staged
        "before points_set_staged",
        "after points_set_staged",  # v2's points join the search; hydration still passes v1 only
        "before points_delete_document",  # the switch has committed: v2 only
        "after points_delete_document",
    ], labels
    results = [docs for _, docs in seen]
    assert all(len(docs) == 1 for docs in results), seen  # never both versions, never none
    first_v2 = labels.index("before points_delete_document")
    assert all(docs == {v1.pk} for docs in results[:first_v2]), seen
    assert all(docs == {v2.pk} for docs in results[first_v2:]), seen
    # in the store itself: v2's points are held out while staged, then both versions' points are there until the
    # switch has committed and v1's are deleted (hydration lets one version through meanwhile)
    assert raw == [{v1.pk}, {v1.pk}, {v1.pk}, {v1.pk, v2.pk}, {v1.pk, v2.pk}, {v2.pk}], raw
    points = _point_docs(v1.pk, v2.pk)
    assert points[v1.pk] == []  # the index holds exactly v2's points
    assert len(points[v2.pk]) == v2.chunks.count() and all(p["staged"] == 0 for p in points[v2.pk])
    activated = AuditLog.objects.get(action="document_version_activated")
    assert activated.target_id == str(v2.pk) and activated.details["superseded"] == [
        {"document_id": v1.pk, "version": 1}
    ]

    seen.clear()
    document_version_restore(document=v1, ctx=ActorContext.for_user(librarian))  # re-embedded and switched back inline
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.version_state, v1.status, v2.version_state) == ("current", "completed", "superseded")
    assert all(len(docs) == 1 for _, docs in seen), seen
    assert _search(reader, question) == {v1.pk}
    points = _point_docs(v1.pk, v2.pk)
    assert points[v2.pk] == [] and len(points[v1.pk]) == v1.chunks.count()
    assert all(p["staged"] == 0 for p in points[v1.pk])


@pytest.mark.slow
def test_a_store_failure_at_the_switch_leaves_the_old_version_current_and_a_retry_switches(
    transactional_db, eager, librarian, reader, finance, monkeypatch
):
    old_text, new_text, question = TEXTS["en"]
    v1 = _upload(old_text, "dam.txt", librarian, [finance])
    real = vectorstore.points_set_staged
    failures = {"left": 1}

    during: list[tuple[bool, set[int]]] = []

    def flaky(**kwargs: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            during.append((Document.objects.get(pk=v1.pk).is_current, _search(reader, question)))
            raise VectorStoreUnavailable("store down")
        real(**kwargs)

    monkeypatch.setattr(vectorstore, "points_set_staged", flaky)
    v2 = _new_version(v1, new_text, "dam-2026.txt", librarian)
    v2.refresh_from_db()
    v1.refresh_from_db()
    # the first attempt failed before the switch; the retry wrote the points again (staged) and switched
    assert failures["left"] == 0
    assert during == [(True, {v1.pk})]  # at the failure: v1 current and the one found
    assert (v2.version_state, v1.version_state) == ("current", "superseded")
    assert _search(reader, question) == {v2.pk}


@pytest.mark.django_db
def test_the_superseded_points_task_keeps_the_points_of_a_version_that_is_current_again(monkeypatch):
    calls: list[int] = []

    def delete(*, document_id: int) -> int:
        calls.append(document_id)
        return 0

    monkeypatch.setattr(vectorstore, "points_delete_document", delete)
    current = make_document()
    pending = make_document(version_of=current, version=2, is_current=False)
    assert versions.version_points_delete(document_id=current.pk) is False
    assert versions.version_points_delete(document_id=pending.pk) is False
    Document.objects.filter(pk=pending.pk).update(superseded_at=timezone.now())
    assert versions.version_points_delete(document_id=pending.pk) is True
    assert calls == [pending.pk]


# --- the admin --------------------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "el"])
def test_admin_uploads_a_new_version_lists_versions_with_dates_and_restores(
    lang, client, librarian, finance, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(tasks.ingest_document, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.generate_embeddings, "delay", lambda pk: None)
    old_text, new_text, _ = TEXTS[lang]
    title = "Kestrel facts" if lang == "en" else "Στοιχεία Κέστρελ"
    v1 = _upload(old_text, "k.txt", librarian, [finance])
    Document.objects.filter(pk=v1.pk).update(title=title, status="completed")
    client.force_login(librarian)
    change = client.get(f"/admin/documents/document/{v1.pk}/change/").content.decode()
    assert f"/admin/documents/document/{v1.pk}/new-version/" in change
    form = client.get(f"/admin/documents/document/{v1.pk}/new-version/")
    assert form.status_code == 200 and title in form.content.decode()

    upload = SimpleUploadedFile("k-2026.txt", new_text.encode())
    response = client.post(f"/admin/documents/document/{v1.pk}/new-version/", {"file": upload})
    v2 = Document.objects.get(version=2)
    assert response.status_code == 302 and response["Location"] == f"/admin/documents/document/{v2.pk}/change/"
    assert v2.title == title and set(v2.access_groups.all()) == {finance}

    duplicate = SimpleUploadedFile("same.txt", old_text.encode())
    page = client.post(f"/admin/documents/document/{v1.pk}/new-version/", {"file": duplicate}, follow=True)
    html = page.content.decode()
    assert "duplicate_document" in html and f"/admin/documents/document/{v1.pk}/change/" in html
    assert Document.objects.count() == 2

    now = timezone.now()
    Document.objects.filter(pk=v1.pk).update(is_current=False, superseded_at=now)
    Document.objects.filter(pk=v2.pk).update(is_current=True, status="completed")
    listing = client.get("/admin/documents/document/").content.decode()
    assert listing.count('data-version-state="') == 2  # the old version stays listed
    assert 'data-version-state="superseded"' in listing and 'data-version-state="current"' in listing
    filtered = client.get("/admin/documents/document/?version_state=superseded").content.decode()
    assert filtered.count('data-version-state="') == 1
    detail = client.get(f"/admin/documents/document/{v2.pk}/change/").content.decode()
    assert f'data-version-id="{v1.pk}"' in detail and f'data-version-id="{v2.pk}"' in detail
    assert f"/admin/documents/document/{v1.pk}/restore-version/" in detail  # the old one can be restored
    assert f"/admin/documents/document/{v2.pk}/restore-version/" not in detail

    confirm = client.get(f"/admin/documents/document/{v1.pk}/restore-version/")
    assert confirm.status_code == 200 and 'id="restore-version-form"' in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(f"/admin/documents/document/{v1.pk}/restore-version/")
    assert done.status_code == 302
    assert Document.objects.get(pk=v1.pk).version_state == "pending"
    again = client.post(f"/admin/documents/document/{v2.pk}/restore-version/", follow=True)
    assert "version_conflict" in again.content.decode()


@pytest.mark.django_db
def test_admin_version_pages_are_for_librarians_only(client, reader, librarian):
    v1 = make_document()
    client.force_login(reader)
    for url in (
        f"/admin/documents/document/{v1.pk}/new-version/",
        f"/admin/documents/document/{v1.pk}/restore-version/",
    ):
        assert client.get(url).status_code in (302, 403)
        assert client.post(url).status_code in (302, 403)
    client.force_login(librarian)
    assert client.get("/admin/documents/document/999999/new-version/").status_code == 404
    assert Document.objects.count() == 1


@pytest.mark.django_db
def test_an_access_change_in_the_admin_applies_to_every_version(
    client, librarian, finance, legal, django_capture_on_commit_callbacks, monkeypatch
):
    synced: list[int] = []
    monkeypatch.setattr(tasks.sync_document_access, "delay", synced.append)
    v1 = make_document(groups=[finance], is_current=False, superseded_at=timezone.now())
    v2 = make_document(groups=[finance], version_of=v1, version=2)
    client.force_login(librarian)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/documents/document/{v2.pk}/change/",
            {
                "title": v2.title,
                "language": "en",
                "access_groups": [legal.pk],
                "chunks-TOTAL_FORMS": "0",
                "chunks-INITIAL_FORMS": "0",
                "chunks-MIN_NUM_FORMS": "0",
                "chunks-MAX_NUM_FORMS": "1000",
            },
        )
    assert response.status_code == 302
    assert list(v1.access_groups.all()) == [legal] and list(v2.access_groups.all()) == [legal]
    assert sorted(synced) == sorted([v1.pk, v2.pk])


# --- the reader's history ---------------------------------------------------------------------------------------
def _cited_answer(reader, session, document: Document, question: str) -> Any:
    from chat.models import Query, Response

    query = Query.objects.create(user=reader, session=session, text=question)
    citation = {
        "number": 1,
        "chunk_id": 1,
        "document_id": document.pk,
        "document_title": document.title,
        "page": None,
        "page_end": None,
        "heading": "",
        "location": "",
        "quote": "The dam is 71 metres high.",
        "score": 1.0,
        "url": f"/documents/{document.pk}/source/",
    }
    return Response.objects.create(query=query, text="71 metres [1].", status="completed", citations=[citation])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("en", "This answer cited version 1 of “Dam facts”, which has been superseded since."),
        ("el", "Αυτή η απάντηση παρέπεμψε στην έκδοση 1 του «Dam facts», που έχει αντικατασταθεί από τότε."),
    ],
)
def test_an_answer_that_cited_a_superseded_version_says_so_in_the_history(
    lang, note, client, reader, finance, django_assert_max_num_queries
):
    from chat.models import ChatSession
    from chat.services.sessions import session_history

    v1 = make_document(title="Dam facts", groups=[finance])
    session = ChatSession.objects.create(user=reader)
    _cited_answer(reader, session, v1, "How high is the dam?")
    [fresh] = session_history(session=session)
    assert fresh["superseded"] == []
    v2 = make_document(title="Dam facts", groups=[finance], version_of=v1, version=2, is_current=False)
    Document.objects.filter(pk=v1.pk).update(is_current=False, superseded_at=timezone.now())
    Document.objects.filter(pk=v2.pk).update(is_current=True)
    _cited_answer(reader, session, v2, "Πόσο ψηλό είναι το φράγμα;")
    with django_assert_max_num_queries(3):  # the exchanges, the superseded versions, their current versions
        old, new = session_history(session=session)
    assert old["superseded"] == [
        {"document_id": v1.pk, "title": "Dam facts", "version": 1, "current_document_id": v2.pk, "current_version": 2}
    ]
    assert new["superseded"] == []
    client.force_login(reader)
    page = client.get(f"/chat/{session.pk}/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert page.count('class="muted note superseded"') == 1 and note in page
    assert f"/documents/{v2.pk}/source/" in page
    api = client.get(f"/api/v1/sessions/{session.pk}/")  # the API's history carries it too
    assert api.status_code == 200 and api.json()["history"][0]["superseded"][0]["document_id"] == v1.pk
