"""``/api/v1/documents/{id}/versions/`` and ``/restore/`` for every persona: list, upload, restore, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AuditLog
from documents import tasks
from documents.models import Document
from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db

TEXTS = {
    "en": ("The Kestrel dam is 71 metres high.", "The Kestrel dam is 84 metres high.", "kestrel.txt"),
    "el": ("Το φράγμα Κέστρελ έχει ύψος 71 μέτρα.", "Το φράγμα Κέστρελ έχει ύψος 84 μέτρα.", "κέστρελ.txt"),
}


def _versions_url(pk: int) -> str:
    return f"/api/v1/documents/{pk}/versions/"


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, int]]:
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.ingest_document, "delay", lambda pk: sent.append(("ingest", pk)))
    monkeypatch.setattr(tasks.generate_embeddings, "delay", lambda pk: sent.append(("embed", pk)))
    return sent


@pytest.fixture
def family(finance) -> dict[str, Document]:
    """v1 superseded (with a chunk), v2 current, both shared with Finance."""
    v1 = make_document(title="Dam facts", groups=[finance], is_current=False, superseded_at=timezone.now())
    make_chunk(v1, 0, "The Kestrel dam is 71 metres high.")
    v2 = make_document(title="Dam facts", groups=[finance], version_of=v1, version=2)
    make_chunk(v2, 0, "The Kestrel dam is 84 metres high.")
    return {"v1": v1, "v2": v2}


def _upload(client, pk: int, data: bytes, name: str, **extra: Any):
    return client.post(
        _versions_url(pk),
        {"file": SimpleUploadedFile(name, data, content_type="text/plain"), **extra},
        format="multipart",
    )


@pytest.mark.parametrize("lang", ["en", "el"])
def test_a_librarian_uploads_a_new_version_that_stays_pending(
    lang, api_as, librarian, finance, queued, django_capture_on_commit_callbacks
):
    _old, new, name = TEXTS[lang]
    v1 = make_document(title="Φράγμα" if lang == "el" else "Dam", groups=[finance])
    client = api_as(librarian)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, v1.pk, new.encode(), name)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 2 and body["is_current"] is False and body["version_state"] == "pending"
    assert body["family_id"] == v1.pk and body["status"] == "queued" and body["original_filename"] == name
    assert body["title"] == v1.title and [g["id"] for g in body["access_groups"]] == [finance.pk]
    assert queued == [("ingest", body["id"])]
    assert AuditLog.objects.filter(action="document_version_uploaded", target_id=str(body["id"])).count() == 1
    detail = client.get(f"/api/v1/documents/{body['id']}/").json()  # a librarian can follow its ingestion
    assert detail["status"] == "queued" and detail["version_state"] == "pending"
    listed = client.get("/api/v1/documents/").json()["results"]
    assert [d["id"] for d in listed] == [v1.pk]  # the list shows the current version only
    busy = _upload(client, v1.pk, (new + " again").encode(), name)
    assert busy.status_code == 409 and busy.json()["code"] == "document_busy"


@pytest.mark.parametrize("lang", ["en", "el"])
def test_an_identical_file_answers_duplicate_with_the_existing_version(lang, api_as, librarian, queued):
    old, new, name = TEXTS[lang]
    client = api_as(librarian)
    first = client.post(
        "/api/v1/documents/", {"file": SimpleUploadedFile(name, old.encode())}, format="multipart"
    ).json()
    assert _upload(client, first["id"], new.encode(), name).status_code == 201
    v2 = Document.objects.get(version=2)
    Document.objects.filter(pk=first["id"]).update(is_current=False, superseded_at=timezone.now())
    Document.objects.filter(pk=v2.pk).update(is_current=True, status="completed")
    response = _upload(client, v2.pk, old.encode(), "same-as-v1.txt")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_document"
    assert body["detail"]["document_id"] == first["id"] and body["detail"]["current_document_id"] == v2.pk
    assert Document.objects.count() == 2


def test_readers_and_outsiders_cannot_upload_versions_and_bad_input_is_coded(
    api_as, librarian, reader, outsider, family, queued
):
    v2 = family["v2"]
    data = b"a changed text of the dam"
    assert _upload(api_as(reader), v2.pk, data, "x.txt").json()["code"] == "permission_denied"
    assert _upload(api_as(outsider), v2.pk, data, "x.txt").json()["code"] == "document_not_found"
    assert _upload(api_as(librarian), 999999, data, "x.txt").json()["code"] == "document_not_found"
    lib = api_as(librarian)
    missing = lib.post(_versions_url(v2.pk), {"title": "no file"}, format="multipart")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_input"
    unknown = _upload(lib, v2.pk, data, "x.txt", access_groups="1")  # the groups are the family's
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_input"
    wrong = _upload(lib, v2.pk, b"MZ\x90\x00 executable" * 20, "x.pdf")
    assert wrong.status_code == 415 and wrong.json()["code"] == "unsupported_file_type"
    json_body = lib.post(_versions_url(v2.pk), {"file": "x"}, format="json")
    assert json_body.status_code == 415
    assert Document.objects.count() == 2 and queued == []


def test_the_versions_list_has_the_dates_and_readers_see_the_indexed_ones(api_as, librarian, reader, outsider, family):
    v1, v2 = family["v1"], family["v2"]
    pending = make_document(title="Dam facts", version_of=v1, version=3, is_current=False)
    body = api_as(librarian).get(_versions_url(v2.pk)).json()
    assert [(v["id"], v["version"], v["version_state"]) for v in body["results"]] == [
        (v1.pk, 1, "superseded"),
        (v2.pk, 2, "current"),
        (pending.pk, 3, "pending"),
    ]
    first = body["results"][0]
    assert first["created_at"] and first["superseded_at"] and body["results"][1]["superseded_at"] is None
    assert api_as(librarian).get(_versions_url(v1.pk)).json()["count"] == 3  # any version names the family
    as_reader = api_as(reader).get(_versions_url(v2.pk)).json()
    assert [v["id"] for v in as_reader["results"]] == [v1.pk, v2.pk]
    assert api_as(reader).get(_versions_url(v1.pk)).json()["code"] == "document_not_found"  # not current
    assert api_as(reader).get(f"/api/v1/documents/{v1.pk}/chunks/").status_code == 404
    assert api_as(outsider).get(_versions_url(v2.pk)).status_code == 404


def test_restore_is_accepted_for_an_old_version_and_refused_with_codes(
    api_as, librarian, reader, family, queued, django_capture_on_commit_callbacks
):
    v1, v2 = family["v1"], family["v2"]
    lib = api_as(librarian)
    current = lib.post(f"/api/v1/documents/{v2.pk}/restore/")
    assert current.status_code == 409 and current.json()["code"] == "version_conflict"
    assert api_as(reader).post(f"/api/v1/documents/{v2.pk}/restore/").json()["code"] == "permission_denied"
    assert api_as(reader).post(f"/api/v1/documents/{v1.pk}/restore/").status_code == 404
    reingest = lib.post(f"/api/v1/documents/{v1.pk}/reingest/")
    assert reingest.status_code == 409 and reingest.json()["code"] == "version_conflict"
    with django_capture_on_commit_callbacks(execute=True):
        response = lib.post(f"/api/v1/documents/{v1.pk}/restore/")
    assert response.status_code == 202, response.content
    assert response.json()["version_state"] == "pending" and response.json()["stage"] == "embedding"
    assert queued == [("embed", v1.pk)]
    again = lib.post(f"/api/v1/documents/{v1.pk}/restore/")
    assert again.status_code == 409 and again.json()["code"] == "document_busy"
    assert Document.objects.get(pk=v2.pk).is_current


def test_deleting_a_document_deletes_all_its_versions(api_as, librarian, family):
    assert api_as(librarian).delete(f"/api/v1/documents/{family['v2'].pk}/").status_code == 204
    assert not Document.objects.not_deleted().exists()
    assert AuditLog.objects.filter(action="document_delete_requested").count() == 2
