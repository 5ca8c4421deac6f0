"""Parsing and chunking in-process (Docling, no worker): structure kept, limits enforced, hostile files fail."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from docintel.context import ActorContext
from docintel.errors import DocumentRejected, UnsupportedFileType
from documents.models import Chunk, Document
from documents.services import ingest
from documents.services.chunking import count_tokens
from documents.services.lifecycle import document_upload
from documents.services.parsing import PARSER_HEURISTIC, PARSER_NATIVE, document_convert, pdf_inspect
from tests.documents.hostile import encrypted_pdf, greek_scan_pdf, pixel_bomb_png, zip_bomb_docx

pytestmark = pytest.mark.django_db


def _upload(data: bytes, name: str, librarian) -> Document:
    return document_upload(
        fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(librarian)
    )


def _ingest(doc: Document) -> ingest.NextStep:
    return ingest.document_ingest(document_id=doc.pk)


REPRESENTATIVE = [
    ("pdf/redp5110_sampled.pdf", PARSER_HEURISTIC),
    ("docx/word_sample.docx", "docling-simple"),
    ("pptx/powerpoint_sample.pptx", "docling-simple"),
    ("xlsx/xlsx_01.xlsx", "docling-simple"),
    ("html/wiki_duck.html", "docling-simple"),
    ("md/wiki.md", "docling-simple"),
]


@pytest.mark.parametrize(("relpath", "parser"), REPRESENTATIVE)
def test_each_format_parses_into_structured_chunks(corpus, librarian, relpath, parser):
    doc = _upload((corpus / relpath).read_bytes(), Path(relpath).name, librarian)
    assert _ingest(doc) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    chunks = list(doc.chunks.all())
    assert (doc.status, doc.stage, doc.parser, doc.attempts) == ("processing", "embedding", parser, 0)
    assert chunks and all(c.text.strip() for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(c.vector_id == Chunk.make_vector_id(doc.pk, c.ordinal) for c in chunks)
    assert max(c.token_count for c in chunks) <= 256 + 40  # budget + overlap, tables may repeat a header
    if relpath.startswith("pdf/"):
        assert doc.page_count == 18
        assert all(c.page_start and c.bbox and len(c.bbox) == 4 for c in chunks)
        assert any(c.heading_path for c in chunks)  # headings from line height (layout plugin)
        assert max(c.page_end or 0 for c in chunks) > 10
    if relpath.startswith(("docx/", "html/", "md/")):
        assert any(c.heading_path for c in chunks)


def test_tables_are_chunks_of_kind_table_with_header(corpus, librarian):
    doc = _upload((corpus / "docx/word_tables.docx").read_bytes(), "word_tables.docx", librarian)
    _ingest(doc)
    tables = list(doc.chunks.filter(kind="table"))
    assert tables and all(t.text for t in tables)


def test_long_sections_split_with_overlap(corpus, librarian, settings):
    settings.DOCINTEL_CHUNK_TOKENS = 64
    settings.DOCINTEL_CHUNK_OVERLAP_TOKENS = 8
    doc = _upload((corpus / "docx/lorem_ipsum.docx").read_bytes(), "lorem.docx", librarian)
    _ingest(doc)
    chunks = list(doc.chunks.order_by("ordinal"))
    assert len(chunks) > 3
    overlapped = [c for c in chunks if c.meta.get("overlap_chars")]
    assert overlapped
    for chunk in overlapped:
        prev = chunks[chunk.ordinal - 1]
        prefix = chunk.text[: chunk.meta["overlap_chars"] - 1]
        assert prev.text.endswith(prefix) and 0 < count_tokens(prefix) <= 8


def test_reingest_replaces_chunks(corpus, librarian):
    doc = _upload((corpus / "md/wiki.md").read_bytes(), "wiki.md", librarian)
    _ingest(doc)
    first = list(doc.chunks.values_list("ordinal", "vector_id", "text"))
    Document.objects.filter(pk=doc.pk).update(status="queued", stage="uploaded")
    _ingest(doc)
    assert list(doc.chunks.values_list("ordinal", "vector_id", "text")) == first


def test_native_pipeline_keeps_pages_and_boxes(corpus, settings):
    settings.DOCINTEL_PDF_PIPELINE = "native"
    conversion = document_convert(path=corpus / "pdf/multi_page.pdf", mime_type="application/pdf")
    assert conversion.parser == PARSER_NATIVE and conversion.page_count == 5
    pages = {p.page_no for item in conversion.document.texts for p in item.prov}
    assert pages == {1, 2, 3, 4, 5}


def test_scan_goes_to_ocr_and_greek_is_read(librarian):
    doc = _upload(greek_scan_pdf(), "scan.pdf", librarian)
    assert _ingest(doc) is ingest.NextStep.OCR
    doc.refresh_from_db()
    assert (doc.stage, doc.ingest_info["pages_without_text"]) == ("ocr", [1])
    assert ingest.document_ocr(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    text = " ".join(doc.chunks.values_list("text", flat=True))
    assert "Παρθενώνας" in text and "Ακρόπολη" in text
    assert doc.parser == "docling-heuristic-layout+tesseract" and doc.language == "el"
    assert 0.5 < doc.ingest_info["ocr_confidence"]["1"] <= 1.0
    first = doc.chunks.first()
    assert first is not None and first.page_start == 1


def test_encrypted_pdf_fails_with_code(librarian):
    doc = _upload(encrypted_pdf(), "locked.pdf", librarian)
    with pytest.raises(DocumentRejected) as err:
        _ingest(doc)
    assert err.value.code == "encrypted"
    assert not doc.chunks.exists()


def test_pixel_bomb_fails_before_decoding(librarian):
    doc = _upload(pixel_bomb_png(), "huge.png", librarian)
    with pytest.raises(DocumentRejected) as err:
        _ingest(doc)
    assert err.value.code == "image_too_large"


def test_too_many_pages(corpus, settings):
    settings.DOCINTEL_MAX_PAGES = 3
    with pytest.raises(DocumentRejected) as err:
        pdf_inspect(corpus / "pdf/multi_page.pdf")
    assert err.value.code == "too_many_pages"


def test_zip_bomb_docx_refused_at_upload(librarian, settings):
    settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES = 8 * 1024 * 1024
    data = zip_bomb_docx(32 * 1024 * 1024)
    assert len(data) < 200_000
    with pytest.raises(DocumentRejected) as err:
        _upload(data, "bomb.docx", librarian)
    assert err.value.code == "zip_bomb"
    assert not Document.objects.exists()


def test_wrong_type_renamed_pdf_refused(librarian, settings):
    with pytest.raises(UnsupportedFileType):
        _upload(b"\x7fELF\x02\x01\x01" + bytes(500), "invoice.pdf", librarian)
    assert not Document.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_path_traversal_name_stays_inside_media_root(corpus, librarian, settings, tmp_path):
    data = (corpus / "md/duck.md").read_bytes()
    doc = _upload(data, "../../../../tmp/evil/../../etc/x.md", librarian)
    media = Path(settings.MEDIA_ROOT).resolve()
    assert media in Path(doc.file.path).resolve().parents
    assert doc.original_filename == "x.md"
    assert not (tmp_path / "etc").exists()
    _ingest(doc)
    doc.refresh_from_db()
    assert doc.chunks.exists()


def test_file_replaced_on_disk_by_other_type_fails(corpus, librarian):
    doc = _upload((corpus / "md/duck.md").read_bytes(), "duck.md", librarian)
    Path(doc.file.path).write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(DocumentRejected) as err:
        _ingest(doc)
    assert err.value.code == "type_mismatch"


def test_poison_document_stops_after_max_attempts(corpus, librarian, settings):
    doc = _upload((corpus / "md/duck.md").read_bytes(), "duck.md", librarian)
    Document.objects.filter(pk=doc.pk).update(
        status="processing", stage="parsing", attempts=settings.DOCINTEL_MAX_ATTEMPTS
    )
    assert _ingest(doc) is ingest.NextStep.NONE
    doc.refresh_from_db()
    assert (doc.status, doc.error_code) == ("failed", "too_many_attempts")
    assert not doc.chunks.exists()


def test_completed_document_is_not_claimed_again(corpus, librarian):
    doc = _upload((corpus / "md/duck.md").read_bytes(), "duck.md", librarian)
    Document.objects.filter(pk=doc.pk).update(status="completed", stage="done")
    assert _ingest(doc) is ingest.NextStep.NONE
    assert not doc.chunks.exists()
