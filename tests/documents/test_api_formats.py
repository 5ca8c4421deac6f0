"""Issue 16 as the reporter tried it: the files once refused as ``unsupported_file_type`` through the API now upload."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from documents.models import Document

pytestmark = pytest.mark.django_db

URL = "/api/v1/documents/"


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.md", "# Notes\n\nA note.")
    return out.getvalue()


EML = (
    b"From: =?UTF-8?B?zpPOuc+Oz4HOs86/z4I=?= <g@example.gr>\r\nTo: lib@example.org\r\nSubject: Hello\r\n"
    b"Date: Tue, 01 Dec 2026 09:00:00 +0200\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"The body.\r\n"
)


@pytest.mark.parametrize(
    ("name", "data", "mime_type"),
    [
        ("nomos.txt", "Άρθρο 1. Η Ακρόπολη.".encode("cp1253"), "text/plain"),
        ("mail.eml", EML, "message/rfc822"),
        ("bundle.zip", _zip(), "application/zip"),
        ("bom.pdf", b"\xef\xbb\xbf%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "application/pdf"),
        ("scan.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(40), "image/webp"),
    ],
)
def test_new_formats_are_accepted_by_the_api(api_as, librarian, name, data, mime_type):
    response = api_as(librarian).post(URL, {"file": SimpleUploadedFile(name, data)}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["mime_type"] == mime_type
    assert Document.objects.get().mime_type == mime_type


def test_a_zip_with_password_protected_members_is_refused_with_a_code(api_as, librarian):
    data = bytearray(_zip())
    data[6] |= 0x1  # the local header's "encrypted" flag
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 8] |= 0x1  # and the central directory's
    response = api_as(librarian).post(URL, {"file": SimpleUploadedFile("secret.zip", bytes(data))}, format="multipart")
    assert response.status_code == 422 and response.json()["code"] == "encrypted"
    assert not Document.objects.exists()
