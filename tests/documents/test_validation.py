"""File type is decided by content; sizes and OOXML archives are checked before any parser opens a file."""

from __future__ import annotations

import io
import zipfile

import pytest

from docintel.errors import DocumentRejected, FileTooLarge, UnsupportedFileType
from documents.services import validation as v


def _sniff(data: bytes, name: str) -> str:
    return v.file_sniff(fileobj=io.BytesIO(data), filename=name).mime_type


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("pdf", v.PDF), ("docx", v.DOCX), ("pptx", v.PPTX), ("xlsx", v.XLSX), ("html", v.HTML), ("md", v.MARKDOWN)],
)
def test_real_corpus_files_are_recognised(corpus, folder, expected):
    files = sorted(
        p for p in (corpus / folder).iterdir() if p.suffix in {".pdf", ".docx", ".pptx", ".xlsx", ".html", ".md"}
    )
    assert files
    for path in files[:5]:
        assert _sniff(path.read_bytes(), path.name) == expected, path.name


def test_images_and_macro_workbooks_by_magic_bytes(corpus):
    assert _sniff(b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "x.pdf") == v.PNG
    assert _sniff(b"\xff\xd8\xff\xe0" + b"\0" * 20, "scan") == v.JPEG
    assert _sniff(b"II*\x00" + b"\0" * 20, "scan.tif") == v.TIFF
    xlsm = corpus / "xlsx" / "xlsx_02_sample_sales_data.xlsm"
    assert _sniff(xlsm.read_bytes(), "renamed.pdf") in {v.XLSX, v.XLSM}  # a workbook whatever its name


def test_docx_renamed_to_pdf_is_still_a_docx(corpus):
    path = sorted((corpus / "docx").glob("*.docx"))[0]
    assert _sniff(path.read_bytes(), "report.pdf") == v.DOCX


def test_text_formats_need_a_known_extension_or_an_html_prologue():
    assert _sniff("# Τίτλος\n\nκείμενο".encode(), "notes.md") == v.MARKDOWN
    assert _sniff(b"a,b\n1,2\n", "data.csv") == v.CSV
    assert _sniff(b"<!DOCTYPE html><html><body>x</body></html>", "page") == v.HTML
    assert _sniff(b"just some text", "notes.txt") == v.TEXT  # issue 16: plain text is a format
    with pytest.raises(UnsupportedFileType):
        _sniff(b"just some text", "notes")
    with pytest.raises(UnsupportedFileType):
        _sniff(b"MZ\x90\x00\x03\x00\x00\x00" * 4, "setup.pdf")


def test_a_plain_zip_is_an_archive_not_an_office_document():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert _sniff(buffer.getvalue(), "x.docx") == v.ZIP  # its members are ingested (issue 16), not Word
    with pytest.raises(UnsupportedFileType):
        _sniff(b"PK\x03\x04 broken", "x.docx")


def test_size_limits(settings):
    settings.DOCINTEL_MAX_UPLOAD_BYTES = 1000
    v.file_check_size(size=1000)
    with pytest.raises(FileTooLarge):
        v.file_check_size(size=1001)
    with pytest.raises(DocumentRejected) as empty:
        v.file_check_size(size=0)
    assert empty.value.code == "empty_file"


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_ooxml_real_size_is_counted(corpus):
    path = sorted((corpus / "docx").glob("*.docx"))[0]
    with path.open("rb") as handle:
        real = v.ooxml_check_sizes(fileobj=handle)
        assert handle.tell() == 0
    assert real > path.stat().st_size


def test_ooxml_bombs_are_refused(settings):
    settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES = 10_000_000
    with pytest.raises(DocumentRejected) as declared:
        v.ooxml_check_sizes(fileobj=_zip({"word/document.xml": b"\0" * 11_000_000}))
    assert declared.value.code == "zip_bomb"
    settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES = 50_000_000
    with pytest.raises(DocumentRejected) as ratio:
        v.ooxml_check_sizes(fileobj=_zip({"word/document.xml": b"\0" * 5_000_000}))
    assert ratio.value.code == "zip_bomb"


def test_ooxml_lying_about_its_size_is_caught_while_streaming(settings):
    settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES = 1_000_000
    buffer = _zip({"word/document.xml": b"x" * 2_000_000}, zipfile.ZIP_STORED)
    data = bytearray(buffer.getvalue())
    # shrink the declared size in the central directory to 10 bytes; the real data is 2 MB
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    with pytest.raises(DocumentRejected) as caught:
        v.ooxml_check_sizes(fileobj=io.BytesIO(bytes(data)))
    assert caught.value.code in {"zip_bomb", "malformed_file"}
