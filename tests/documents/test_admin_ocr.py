"""The admin's OCR quality tools: per-page confidence and the engine shown, "Re-OCR with engine X", containers."""

from __future__ import annotations

import io

import pytest

from audit.models import AuditLog
from docintel.context import ActorContext
from documents.models import Document
from documents.services import ingest
from documents.services.lifecycle import document_upload
from tests.documents.hostile import greek_scan_pdf, zip_of

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/documents/document/"


@pytest.fixture
def lib_client(client, librarian):
    client.force_login(librarian)
    return client


def _upload(data: bytes, name: str, librarian) -> Document:
    return document_upload(
        fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(librarian)
    )


def _scan(librarian) -> Document:
    doc = _upload(greek_scan_pdf(), "scan.pdf", librarian)
    ingest.document_ingest(document_id=doc.pk)
    ingest.document_ocr(document_id=doc.pk)
    Document.objects.filter(pk=doc.pk).update(status="completed", stage="done", progress=100)  # as after embedding
    doc.refresh_from_db()
    return doc


def _action(client, action: str, doc: Document):
    return client.post(LIST_URL, {"action": action, "_selected_action": [doc.pk]}, follow=True)


def test_reocr_with_tesseract_queues_the_ocr_step_and_replaces_chunks(lib_client, librarian):
    doc = _scan(librarian)
    before = list(doc.chunks.values_list("ordinal", "vector_id"))
    response = _action(lib_client, "reocr_tesseract", doc)
    assert "queued for OCR with tesseract" in response.content.decode()
    doc.refresh_from_db()
    assert (doc.status, doc.stage, doc.attempts) == ("queued", "ocr", 0)
    assert doc.ingest_info["ocr_requested_engine"] == "tesseract"
    row = AuditLog.objects.get(action="document_reocr_requested")
    assert row.details == {"engine": "tesseract"} and row.target_id == str(doc.pk)
    assert ingest.document_ocr(document_id=doc.pk, engine="tesseract") is ingest.NextStep.EMBED
    doc.refresh_from_db()
    assert list(doc.chunks.values_list("ordinal", "vector_id")) == before  # replaced in place, same vector ids
    assert "Παρθενώνας" in " ".join(doc.chunks.values_list("text", flat=True))


def test_reocr_with_easyocr_without_an_ocr_worker_says_so_and_changes_nothing(lib_client, librarian):
    doc = _scan(librarian)
    response = _action(lib_client, "reocr_easyocr", doc)
    body = response.content.decode()
    assert "ocr_engine_unavailable" in body and "No worker serves the" in body
    doc.refresh_from_db()
    assert (doc.status, doc.stage) == ("completed", "done")  # untouched
    assert not AuditLog.objects.filter(action="document_reocr_requested").exists()


def test_reocr_of_a_document_being_processed_is_refused(lib_client, librarian):
    doc = _scan(librarian)
    Document.objects.filter(pk=doc.pk).update(status="processing", stage="embedding")
    assert "document_busy" in _action(lib_client, "reocr_tesseract", doc).content.decode()


def test_reocr_of_a_document_with_a_text_layer_is_refused(lib_client, librarian, corpus):
    doc = _upload((corpus / "md" / "duck.md").read_bytes(), "duck.md", librarian)
    response = _action(lib_client, "reocr_surya", doc)
    assert "not_a_scan" in response.content.decode()
    doc.refresh_from_db()
    assert doc.stage == "uploaded"


def test_change_page_shows_engine_confidence_and_the_easyocr_note(lib_client, librarian):
    doc = _scan(librarian)
    info = dict(doc.ingest_info)
    info["ocr_note"] = "EasyOCR has no Greek model, so this Greek document was read by Tesseract (ell+eng) instead."
    Document.objects.filter(pk=doc.pk).update(ingest_info=info)
    body = lib_client.get(f"{LIST_URL}{doc.pk}/change/").content.decode()
    assert 'class="di-ocr-engine">tesseract<' in body
    assert 'data-page="1">p. 1: ' in body
    assert "EasyOCR has no Greek model" in body


def test_archive_change_page_lists_children_and_refusals(lib_client, librarian, corpus):
    data = zip_of({"duck.md": (corpus / "md" / "duck.md").read_bytes(), "tool.exe": b"MZ\x90\x00" * 64})
    doc = _upload(data, "bundle.zip", librarian)
    ingest.document_ingest(document_id=doc.pk)
    child = doc.children.get()
    body = lib_client.get(f"{LIST_URL}{doc.pk}/change/").content.decode()
    assert f'href="/admin/documents/document/{child.pk}/change/"' in body
    assert "tool.exe" in body and "unsupported_file_type" in body
    child_body = lib_client.get(f"{LIST_URL}{child.pk}/change/").content.decode()
    assert f'href="/admin/documents/document/{doc.pk}/change/">#{doc.pk}</a>' in child_body


def test_reocr_of_a_greek_document_with_easyocr_warns_at_once(lib_client, librarian, monkeypatch):
    from documents.services import ocr

    doc = _scan(librarian)
    assert doc.language == "el"
    monkeypatch.setattr(ocr, "ocr_queue_has_worker", lambda **_: True)  # as if the OCR worker were up
    body = _action(lib_client, "reocr_easyocr", doc).content.decode()
    assert "queued for OCR with easyocr" in body and "EasyOCR has no Greek model" in body
