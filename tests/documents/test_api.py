"""Documents API for every persona: readers see only what their groups allow; only librarians write."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.pagination import PageNumberPagination

from audit.models import AuditLog
from documents.models import Document
from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


@pytest.fixture
def library(finance, legal):
    """A finance document, a legal one, one for nobody but librarians, and a finance one still in ingestion."""
    return {
        "finance": make_document(title="Budget 2025", groups=[finance], language="en"),
        "legal": make_document(title="Contract", groups=[legal], language="el"),
        "private": make_document(title="Librarians only"),
        "queued": make_document(title="In progress", groups=[finance], status=Document.Status.QUEUED),
    }


def _titles(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {d["title"] for d in response.json()["results"]}


def test_each_persona_lists_only_what_it_may_read(api_as, librarian, reader, outsider, superuser, library):
    assert _titles(api_as(librarian).get(URL)) == {"Budget 2025", "Contract", "Librarians only", "In progress"}
    assert _titles(api_as(superuser).get(URL)) == {"Budget 2025", "Contract", "Librarians only", "In progress"}
    assert _titles(api_as(reader).get(URL)) == {"Budget 2025"}
    assert _titles(api_as(outsider).get(URL)) == set()


def test_readers_see_only_their_own_access_groups_on_a_document(api_as, librarian, reader, finance, legal):
    make_document(title="Shared", groups=[finance, legal])
    [as_reader] = api_as(reader).get(URL).json()["results"]
    [as_librarian] = api_as(librarian).get(URL).json()["results"]
    assert [g["name"] for g in as_reader["access_groups"]] == ["Finance"]
    assert sorted(g["name"] for g in as_librarian["access_groups"]) == ["Finance", "Legal"]


def test_list_filters_by_status_language_and_group(api_as, librarian, library, legal):
    client = api_as(librarian)
    assert _titles(client.get(URL, {"status": "queued"})) == {"In progress"}
    assert _titles(client.get(URL, {"language": "el"})) == {"Contract"}
    assert _titles(client.get(URL, {"group": legal.pk})) == {"Contract"}
    assert _titles(client.get(URL, {"status": "completed", "group": legal.pk, "language": "en"})) == set()


def test_invalid_filter_answers_invalid_input(api_as, librarian):
    response = api_as(librarian).get(URL, {"status": "exploded", "group": "x", "language": ""})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_input" and set(body["detail"]) == {"status", "group", "language"}


def test_list_is_paginated_with_a_constant_number_of_queries(
    api_as, reader, finance, legal, django_assert_max_num_queries
):
    for _ in range(3):
        doc = make_document(groups=[finance, legal])
        make_chunk(doc, 0)
        make_chunk(doc, 1)
    client = api_as(reader)
    with django_assert_max_num_queries(6) as few:
        client.get(URL)
    for _ in range(10):
        make_document(groups=[finance, legal])
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(URL).json()
    assert body["count"] == 13 and len(body["results"]) == 13
    assert {d["chunk_count"] for d in body["results"]} == {0, 2}


def test_pages_of_the_list(api_as, librarian, monkeypatch):
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    for _ in range(3):
        make_document()
    client = api_as(librarian)
    first = client.get(URL).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = client.get(URL, {"page": 2}).json()
    assert len(second["results"]) == 1 and second["next"] is None
    missing = client.get(URL, {"page": 9})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    for odd in ("page=", "page=1&page=2", "page=x"):
        assert client.get(f"{URL}?{odd}").status_code == 404, odd


def test_detail_shows_status_stage_progress_and_error(api_as, librarian):
    doc = make_document(status=Document.Status.PROCESSING, stage=Document.Stage.EMBEDDING, progress=60)
    body = api_as(librarian).get(f"{URL}{doc.pk}/").json()
    assert (body["status"], body["stage"], body["progress"], body["error"]) == ("processing", "embedding", 60, None)
    doc.mark_failed(code="encrypted", message="The PDF is password-protected.")
    body = api_as(librarian).get(f"{URL}{doc.pk}/").json()
    assert body["status"] == "failed"
    assert body["error"] == {"code": "encrypted", "message": "The PDF is password-protected."}


def test_a_foreign_id_answers_404_exactly_like_a_missing_one(api_as, reader, outsider, library):
    client = api_as(reader)
    ok = client.get(f"{URL}{library['finance'].pk}/")
    assert ok.status_code == 200 and ok.json()["title"] == "Budget 2025"
    missing = client.get(f"{URL}999999999/")
    assert missing.status_code == 404
    for doc in (library["legal"], library["private"], library["queued"]):
        foreign = client.get(f"{URL}{doc.pk}/")
        assert foreign.status_code == 404
        assert (
            foreign.json()
            == missing.json()
            == {
                "code": "document_not_found",
                "message": "Document not found.",
                "detail": None,
            }
        )
    assert api_as(outsider).get(f"{URL}{library['finance'].pk}/").status_code == 404


def test_an_id_beyond_bigint_is_a_plain_404(api_as, librarian):
    response = api_as(librarian).get(f"{URL}{10**30}/")
    assert response.status_code == 404 and response.json()["code"] == "document_not_found"


def test_chunks_of_a_visible_document_in_reading_order(api_as, reader, library):
    doc = library["finance"]
    make_chunk(doc, 1, "second", page_start=2)
    make_chunk(doc, 0, "first", page_start=1, heading_path=["Intro", "Scope"])
    body = api_as(reader).get(f"{URL}{doc.pk}/chunks/").json()
    assert [c["text"] for c in body["results"]] == ["first", "second"]
    assert body["results"][0]["location"] == "p. 1" and body["results"][0]["heading"] == "Intro › Scope"
    make_chunk(library["legal"], 0, "secret")
    foreign = api_as(reader).get(f"{URL}{library['legal'].pk}/chunks/")
    assert foreign.status_code == 404 and foreign.json()["code"] == "document_not_found"
    assert b"secret" not in foreign.content


# --- upload --------------------------------------------------------------------------------------------------------
def _pdf(name="report.pdf", content=b"%PDF-1.7\nhello world\n%%EOF"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_librarian_uploads_a_file_that_is_queued_with_its_groups(api_as, librarian, finance, legal):
    response = api_as(librarian).post(
        URL,
        {"file": _pdf(), "title": "Annual report", "language": "en", "access_groups": [finance.pk, legal.pk]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["title"], body["status"], body["stage"], body["mime_type"]) == (
        "Annual report",
        "queued",
        "uploaded",
        "application/pdf",
    )
    assert sorted(g["name"] for g in body["access_groups"]) == ["Finance", "Legal"]
    doc = Document.objects.get(pk=body["id"])
    assert doc.uploaded_by == librarian and doc.original_filename == "report.pdf"
    assert "report" not in str(doc.file.name)  # server-generated storage name
    assert AuditLog.objects.filter(action="document_uploaded", target_id=str(doc.pk), actor=librarian).exists()


@pytest.mark.parametrize("persona", ["reader", "outsider"])
def test_non_librarians_cannot_upload_and_nothing_is_written(api_as, persona, request):
    response = api_as(request.getfixturevalue(persona)).post(URL, {"file": _pdf()}, format="multipart")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not Document.objects.exists() and not AuditLog.objects.exists()


def test_anonymous_cannot_upload(anon, db):
    response = anon.post(URL, {"file": _pdf()}, format="multipart")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Document.objects.exists()


def test_upload_refuses_an_unsupported_type_and_stores_nothing(api_as, librarian, settings):
    exe = SimpleUploadedFile("tool.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), content_type="application/pdf")
    response = api_as(librarian).post(URL, {"file": exe}, format="multipart")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_file_type"
    assert not Document.objects.exists()
    assert not settings.MEDIA_ROOT.exists() or not any(p.is_file() for p in settings.MEDIA_ROOT.rglob("*"))


def test_upload_refuses_a_file_above_the_limit(api_as, librarian, settings):
    settings.DOCINTEL_MAX_UPLOAD_BYTES = 10
    response = api_as(librarian).post(URL, {"file": _pdf()}, format="multipart")
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large" and response.json()["detail"] == {"limit_bytes": 10}
    assert not Document.objects.exists()


def test_upload_of_the_same_bytes_again_is_a_duplicate(api_as, librarian):
    client = api_as(librarian)
    first = client.post(URL, {"file": _pdf()}, format="multipart").json()
    again = client.post(URL, {"file": _pdf("copy.pdf")}, format="multipart")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_document" and again.json()["detail"]["document_id"] == first["id"]
    assert Document.objects.count() == 1


def test_upload_rejects_an_empty_file_a_missing_file_and_json(api_as, librarian):
    client = api_as(librarian)
    empty = client.post(URL, {"file": _pdf(content=b"")}, format="multipart")
    assert empty.status_code == 422 and empty.json()["code"] == "empty_file"
    missing = client.post(URL, {"title": "x"}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["detail"]
    as_json = client.post(URL, {"title": "x"}, format="json")
    assert as_json.status_code == 415 and as_json.json()["code"] == "unsupported_media_type"
    unknown_group = client.post(URL, {"file": _pdf(), "access_groups": [424242]}, format="multipart")
    assert unknown_group.status_code == 400 and "access_groups" in unknown_group.json()["detail"]
    assert not Document.objects.exists()


# --- re-ingest and delete ------------------------------------------------------------------------------------------
def test_librarian_reingests_a_failed_document(api_as, librarian):
    doc = make_document(status=Document.Status.FAILED, error_code="parse_error", error_message="bad", progress=40)
    response = api_as(librarian).post(f"{URL}{doc.pk}/reingest/")
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["stage"], body["progress"], body["error"]) == ("queued", "uploaded", 0, None)
    assert AuditLog.objects.filter(action="document_reingest_requested", target_id=str(doc.pk)).exists()


def test_reingest_of_a_document_being_deleted_is_busy(api_as, librarian):
    doc = make_document(status=Document.Status.PROCESSING, stage=Document.Stage.DELETING)
    response = api_as(librarian).post(f"{URL}{doc.pk}/reingest/")
    assert response.status_code == 409 and response.json()["code"] == "document_busy"


def test_reader_may_not_reingest_or_delete_and_nothing_changes(api_as, reader, library):
    doc = library["finance"]
    client = api_as(reader)
    for response in (client.post(f"{URL}{doc.pk}/reingest/"), client.delete(f"{URL}{doc.pk}/")):
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    doc.refresh_from_db()
    assert doc.status == Document.Status.COMPLETED and doc.deleted_at is None
    assert not AuditLog.objects.exists()


def test_writes_on_a_foreign_document_answer_404_not_403(api_as, outsider, reader, library):
    for client, doc in ((api_as(outsider), library["finance"]), (api_as(reader), library["legal"])):
        assert client.post(f"{URL}{doc.pk}/reingest/").json()["code"] == "document_not_found"
        assert client.delete(f"{URL}{doc.pk}/").status_code == 404
    assert Document.objects.active().count() == 4 and not AuditLog.objects.exists()


def test_librarian_deletes_a_document_which_disappears_at_once(api_as, librarian, reader, library):
    doc = library["finance"]
    response = api_as(librarian).delete(f"{URL}{doc.pk}/")
    assert response.status_code == 204
    doc.refresh_from_db()
    assert doc.deleted_at is not None and doc.stage == Document.Stage.DELETING
    assert api_as(librarian).get(f"{URL}{doc.pk}/").status_code == 404
    assert api_as(reader).get(f"{URL}{doc.pk}/").status_code == 404
    assert AuditLog.objects.filter(action="document_delete_requested", target_id=str(doc.pk)).count() == 1
