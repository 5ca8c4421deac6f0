"""Issue 16's formats through the real upload and ingestion path.

Issue 16's formats through the real upload and ingestion path: plain text (Greek legacy encodings), e-mail with
attachments as child documents, WebP scans, ZIP archives of documents, PDFs with a byte-order mark.
"""

from __future__ import annotations

import base64
import io
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from docintel.context import ActorContext
from docintel.errors import DocumentRejected, UnsupportedFileType
from documents.models import Document
from documents.services import ingest
from documents.services import validation as v
from documents.services.lifecycle import document_delete, document_upload
from documents.services.textdecode import text_decode
from tests.documents.hostile import text_image, zip_bomb_docx, zip_of

pytestmark = pytest.mark.django_db

GREEK = "Άρθρο 1. Η Ακρόπολη της Αθήνας είναι αρχαία ακρόπολη.\n\nΌλοι οι πολίτες έχουν ίσα δικαιώματα, «ναι»."
SENDER = "Γιώργος Παπαδόπουλος"


def _upload(data: bytes, name: str, librarian, **kwargs) -> Document:
    return document_upload(
        fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(librarian), **kwargs
    )


def _sniff(data: bytes, name: str) -> str:
    return v.file_sniff(fileobj=io.BytesIO(data), filename=name).mime_type


def _text(doc: Document) -> str:
    return " ".join(doc.chunks.order_by("ordinal").values_list("text", flat=True))


# --- plain text -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1253", "iso8859_7"])
def test_greek_text_encodings_are_detected(encoding):
    data = GREEK.encode(encoding)
    text, found = text_decode(data)
    assert text == GREEK
    assert found == {"utf-8-sig": "utf-8", "utf-16": found}.get(encoding, encoding)
    assert _sniff(data, "notes.txt") == v.TEXT


def test_windows_1253_and_iso_8859_7_differ_on_capital_alpha_with_tonos():
    # 0xA2 is Ά in Windows-1253 and a quotation mark in ISO-8859-7; 0xB6 is Ά in ISO-8859-7 and ¶ in Windows-1253
    assert text_decode("Άρθρο Άλφα".encode("cp1253")) == ("Άρθρο Άλφα", "cp1253")
    assert text_decode("Άρθρο Άλφα".encode("iso8859_7")) == ("Άρθρο Άλφα", "iso8859_7")
    assert text_decode("“Άρθρο” – €5".encode("cp1253"))[1] == "cp1253"  # 0x80-0x9F: controls in ISO-8859-7


def test_binary_named_txt_is_refused():
    with pytest.raises(UnsupportedFileType):
        _sniff(b"\x7fELF\x02\x01\x01" + bytes(500), "notes.txt")
    with pytest.raises(UnsupportedFileType):
        _sniff(b"just some text", "notes")  # text without a known extension stays refused


@pytest.mark.parametrize("encoding", ["cp1253", "iso8859_7", "utf-16"])
def test_plain_text_ingests_with_its_encoding(librarian, encoding):
    doc = _upload(GREEK.encode(encoding), f"nomos-{encoding}.txt", librarian)
    assert doc.mime_type == v.TEXT
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    assert doc.parser == "docintel-text" and doc.language == "el"
    assert doc.ingest_info["encoding"] in (encoding, "utf-16-le", "utf-16-be")
    text = _text(doc)
    assert "Ακρόπολη της Αθήνας" in text and "Όλοι οι πολίτες" in text and "Άρθρο 1" in text


# --- e-mail ---------------------------------------------------------------------------------------------------------
def _email(attachments: list[tuple[str, bytes, str]]) -> bytes:
    message = MIMEMultipart()
    name = base64.b64encode(SENDER.encode()).decode()
    message["From"] = f"=?UTF-8?B?{name}?= <gp@example.gr>"
    message["To"] = "library@example.org"
    message["Subject"] = (
        "=?UTF-8?Q?=CE=A0=CF=81=CE=BF=CF=8B=CF=80=CE=BF=CE=BB=CE=BF=CE=B3=CE=B9=CF=83=CE=BC=CF=8C=CF=82?= 2026"
    )
    message["Date"] = "Tue, 01 Dec 2026 09:00:00 +0200"
    message["Message-ID"] = "<budget-2026@example.gr>"
    message.attach(MIMEText("Καλημέρα,\n\nο προϋπολογισμός του 2026 επισυνάπτεται.\n\nΓ.Π.", "plain", "utf-8"))
    for filename, data, subtype in attachments:
        part = MIMEApplication(data, _subtype=subtype)
        part.add_header("Content-Disposition", "attachment", filename=filename)
        message.attach(part)
    return message.as_bytes()


def test_eml_headers_body_and_attachments_as_children(librarian, finance, corpus):
    md = (corpus / "md" / "duck.md").read_bytes()
    data = _email([("duck.md", md, "octet-stream"), ("setup.exe", b"MZ\x90\x00" * 64, "octet-stream")])
    assert _sniff(data, "budget.eml") == v.EML
    assert _sniff(data, "no-extension") == v.EML  # the headers say it is mail
    doc = _upload(data, "budget.eml", librarian, access_groups=[finance])
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    mail = doc.ingest_info["email"]
    assert mail["from"] == f"{SENDER} <gp@example.gr>"  # RFC 2047 decoded
    assert mail["subject"] == "Προϋπολογισμός 2026" and mail["message-id"] == "<budget-2026@example.gr>"
    assert doc.parser == "docintel-email"
    chunks = list(doc.chunks.all())
    assert "ο προϋπολογισμός του 2026 επισυνάπτεται" in " ".join(c.text for c in chunks)
    assert chunks[0].heading_path == ["Προϋπολογισμός 2026"]
    attachments = {a["name"]: a for a in doc.ingest_info["attachments"]}
    assert attachments["setup.exe"]["status"] == "refused"
    assert attachments["setup.exe"]["code"] == "unsupported_file_type"
    child = Document.objects.get(pk=attachments["duck.md"]["document_id"])
    assert (child.parent, child.mime_type, child.status) == (doc, v.MARKDOWN, "queued")
    assert list(child.access_groups.all()) == [finance]  # the parent's readers, no one else
    assert child.uploaded_by == librarian and child.ingest_info["source"] == "duck.md"
    assert ingest.document_ingest(document_id=child.pk) is ingest.NextStep.EMBED
    assert child.chunks.exists()
    # re-ingesting the e-mail finds its own child again: nothing duplicated
    Document.objects.filter(pk=doc.pk).update(status="queued", stage="uploaded")
    ingest.document_ingest(document_id=doc.pk)
    doc.refresh_from_db()
    assert {a["name"]: a["status"] for a in doc.ingest_info["attachments"]}["duck.md"] == "exists"
    assert Document.objects.count() == 2
    # deleting the e-mail deletes its attachments too
    document_delete(document=doc, ctx=ActorContext.for_user(librarian))
    assert not Document.objects.active().exists()


def test_html_only_email_keeps_visible_text(librarian):
    message = MIMEText(
        "<html><head><style>p{color:red}</style></head><body><h1>Notice</h1><p>The archive closes at noon.</p>"
        "<script>alert(1)</script></body></html>",
        "html",
        "utf-8",
    )
    message["From"] = "Archive <archive@example.org>"
    message["Subject"] = "Closing time"
    message["Date"] = "Tue, 01 Dec 2026 09:00:00 +0000"
    doc = _upload(message.as_bytes(), "notice.eml", librarian)
    ingest.document_ingest(document_id=doc.pk)
    doc.refresh_from_db()
    text = _text(doc)
    assert "The archive closes at noon." in text
    assert "alert" not in text and "color" not in text
    assert doc.ingest_info["body_format"] == "html"


# --- WebP -----------------------------------------------------------------------------------------------------------
def test_webp_scan_is_ocrd_like_other_images(librarian):
    data = text_image(["The library opens at nine.", "Η βιβλιοθήκη ανοίγει στις εννέα."], fmt="WEBP")
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    doc = _upload(data, "notice.webp", librarian)
    assert doc.mime_type == v.WEBP
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.OCR
    assert ingest.document_ocr(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    text = _text(doc)
    assert "library opens" in text and "βιβλιοθήκη" in text
    assert doc.parser.endswith("+tesseract") and doc.ingest_info["ocr_confidence"]["1"] > 0.5
    first = doc.chunks.first()
    assert first is not None and first.page_start == 1


# --- ZIP ------------------------------------------------------------------------------------------------------------
def test_zip_members_become_child_documents(librarian, finance, corpus):
    inner = zip_of({"x.md": b"# inner"})
    data = zip_of(
        {
            "reports/duck.md": (corpus / "md" / "duck.md").read_bytes(),
            "reports/nomos.txt": GREEK.encode("cp1253"),
            "reports/multi_page.pdf": (corpus / "pdf" / "multi_page.pdf").read_bytes(),
            "nested.zip": inner,
            "tool.exe": b"MZ\x90\x00" * 64,
            "__MACOSX/._duck.md": b"\x00\x05\x16\x07",
            ".DS_Store": b"\x00\x00\x00\x01Bud1",
        }
    )
    assert _sniff(data, "bundle.zip") == v.ZIP
    doc = _upload(data, "bundle.zip", librarian, access_groups=[finance])
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.NONE
    doc.refresh_from_db()
    assert (doc.status, doc.stage, doc.progress, doc.parser) == ("completed", "done", 100, "docintel-zip")
    members = {m["name"]: m for m in doc.ingest_info["members"]}
    assert set(members) == {"reports/duck.md", "reports/nomos.txt", "reports/multi_page.pdf", "nested.zip", "tool.exe"}
    assert members["nested.zip"]["code"] == "nested_archive"
    assert members["tool.exe"]["code"] == "unsupported_file_type"
    children = {c.original_filename: c for c in doc.children.all()}
    assert set(children) == {"duck.md", "nomos.txt", "multi_page.pdf"}
    for child in children.values():
        assert list(child.access_groups.all()) == [finance]
    greek = children["nomos.txt"]
    assert ingest.document_ingest(document_id=greek.pk) is ingest.NextStep.EMBED
    assert "Ακρόπολη της Αθήνας" in _text(greek)
    pdf = children["multi_page.pdf"]
    assert ingest.document_ingest(document_id=pdf.pk) is ingest.NextStep.EMBED
    pdf.refresh_from_db()
    assert pdf.page_count == 5


def test_zip_without_supported_members_fails_with_a_code(librarian):
    doc = _upload(zip_of({"tool.exe": b"MZ\x90\x00" * 64}), "tools.zip", librarian)
    with pytest.raises(DocumentRejected) as err:
        ingest.document_ingest(document_id=doc.pk)
    assert err.value.code == "no_supported_files"
    assert not doc.children.exists()


def test_zip_bombs_are_refused_with_the_ooxml_limits(librarian, settings):
    settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES = 8 * 1024 * 1024
    bomb = zip_bomb_docx(32 * 1024 * 1024)  # the same bomb, without [Content_Types].xml it is a plain ZIP
    plain = bomb.replace(b"[Content_Types].xml", b"[Content_Typez].xml")
    assert _sniff(plain, "bomb.zip") == v.ZIP
    with pytest.raises(DocumentRejected) as err:
        _upload(plain, "bomb.zip", librarian)
    assert err.value.code == "zip_bomb"
    settings.DOCINTEL_MAX_ARCHIVE_MEMBERS = 3
    with pytest.raises(DocumentRejected) as many:
        _upload(zip_of({f"{i}.txt": b"x" for i in range(4)}), "many.zip", librarian)
    assert many.value.code == "too_many_files"
    assert not Document.objects.exists()


# --- PDF with leading junk ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("junk", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n", b"garbage from a mail gateway\r\n"])
def test_pdf_with_a_bom_or_junk_before_the_header_ingests(corpus, librarian, junk):
    data = junk + (corpus / "pdf" / "multi_page.pdf").read_bytes()
    assert _sniff(data, "report.pdf") == v.PDF
    doc = _upload(data, "report.pdf", librarian)
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    assert doc.page_count == 5 and doc.status == "processing"
    assert sorted({c.page_start or 0 for c in doc.chunks.all()}) == [1, 2, 3, 4, 5]


def test_pdf_header_must_be_within_the_first_kib():
    assert _sniff(b"\xef\xbb\xbf" + b" " * 1000 + b"%PDF-1.7\n", "x") == v.PDF
    with pytest.raises(UnsupportedFileType):
        _sniff(b"\xef\xbb\xbf" + b" " * 1100 + b"%PDF-1.7\n", "x.pdf")
    # a note that mentions the header is text, not a PDF
    assert _sniff(b"Every PDF starts with %PDF-1.7 as its header.\n", "note.md") == v.MARKDOWN


def test_inline_images_of_an_html_mail_are_part_of_the_body_not_documents():
    from email.mime.image import MIMEImage

    from documents.services.formats import email_parse

    message = MIMEMultipart("related")
    message["From"] = "Archive <archive@example.org>"
    message["Subject"] = "Logo"
    message.attach(MIMEText('<p>See our logo <img src="cid:logo"></p>', "html", "utf-8"))
    logo = MIMEImage(text_image(["LOGO"]), _subtype="png")
    logo.add_header("Content-ID", "<logo>")
    logo.add_header("Content-Disposition", "inline")
    message.attach(logo)
    report = MIMEApplication(b"%PDF-1.4 ...", _subtype="pdf")
    report.add_header("Content-Disposition", "attachment", filename="report.pdf")
    message.attach(report)
    parsed = email_parse(message.as_bytes())
    assert [a.name for a in parsed.attachments] == ["report.pdf"]
    assert "See our logo" in parsed.body


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_western_legacy_text_is_not_taken_for_greek(encoding):
    text = "Le café du village a reçu un prix. Über die Brücke, señor."
    decoded, found = text_decode(text.encode(encoding))
    assert decoded == text and found in ("cp1252", "latin-1")
