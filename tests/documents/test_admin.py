"""The librarian's back-office: upload (one and many), refusals, actions, audit rows, constant query counts."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from chat.models import Query, Response
from docintel.context import ActorContext
from documents.models import Document
from tests.factories import make_document

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/admin/documents/document/upload/"
LIST_URL = "/admin/documents/document/"


@pytest.fixture
def lib_client(client, librarian):
    client.force_login(librarian)
    return client


def _pdf(corpus, name="2206.01062.pdf"):
    path = next(corpus.glob(f"pdf/{name}"), None) or sorted(corpus.glob("pdf/*.pdf"))[0]
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="application/pdf")


def test_upload_one_pdf_appears_queued(lib_client, librarian, corpus, finance):
    upload = _pdf(corpus)
    response = lib_client.post(
        UPLOAD_URL, {"files": [upload], "title": "Layout paper", "access_groups": [finance.pk]}, follow=True
    )
    assert response.status_code == 200
    doc = Document.objects.get()
    assert (doc.status, doc.title, doc.uploaded_by) == ("queued", "Layout paper", librarian)
    assert doc.mime_type == "application/pdf" and doc.original_filename == upload.name
    assert list(doc.access_groups.all()) == [finance]
    assert doc.file.name
    assert doc.file.name.startswith("documents/")
    assert str(upload.name) not in doc.file.name
    assert "Layout paper" in response.content.decode() and "Queued" in response.content.decode()
    row = AuditLog.objects.get(action="document_uploaded")
    assert (row.actor, row.target_id) == (librarian, str(doc.pk))


def test_upload_several_files_at_once(lib_client, corpus):
    files = [
        SimpleUploadedFile(p.name, p.read_bytes())
        for p in [*sorted(corpus.glob("pdf/*.pdf"))[:2], *sorted(corpus.glob("docx/*.docx"))[:1]]
    ]
    lib_client.post(UPLOAD_URL, {"files": files}, follow=True)
    assert Document.objects.count() == 3
    assert set(Document.objects.values_list("status", flat=True)) == {"queued"}
    assert Document.objects.filter(mime_type__endswith="wordprocessingml.document").count() == 1
    assert not Document.objects.filter(access_groups__isnull=False).exists()  # default deny


def test_duplicate_is_refused_with_a_link_to_the_existing_document(lib_client, corpus):
    lib_client.post(UPLOAD_URL, {"files": [_pdf(corpus)]})
    first = Document.objects.get()
    response = lib_client.post(UPLOAD_URL, {"files": [_pdf(corpus)]}, follow=True)
    assert Document.objects.count() == 1
    html = response.content.decode()
    assert "duplicate_document" in html and f"/admin/documents/document/{first.pk}/change/" in html


def test_wrong_type_renamed_to_pdf_is_refused_and_nothing_is_stored(lib_client, settings):
    fake = SimpleUploadedFile("report.pdf", b"MZ\x90\x00 this is an executable" * 10)
    response = lib_client.post(UPLOAD_URL, {"files": [fake]}, follow=True)
    assert "unsupported_file_type" in response.content.decode()
    assert Document.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_zip_bomb_docx_is_refused_before_parsing(lib_client, settings):
    settings.DOCINTEL_MAX_UNCOMPRESSED_BYTES = 5_000_000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\x00" * 20_000_000)
    bomb = SimpleUploadedFile("bomb.docx", buffer.getvalue())
    response = lib_client.post(UPLOAD_URL, {"files": [bomb]}, follow=True)
    assert "zip_bomb" in response.content.decode()
    assert Document.objects.count() == 0


def test_path_traversal_file_name_is_kept_as_metadata_only(lib_client, corpus, settings):
    upload = _pdf(corpus)
    upload.name = "../../../../tmp/evil.pdf"
    lib_client.post(UPLOAD_URL, {"files": [upload]})
    doc = Document.objects.get()
    assert doc.original_filename == "evil.pdf"
    assert doc.file.path.startswith(str(settings.MEDIA_ROOT))


def test_plain_add_form_redirects_to_upload(lib_client, finance):
    response = lib_client.get("/admin/documents/document/add/")
    assert response.status_code == 302 and response["Location"].endswith(UPLOAD_URL)
    page = lib_client.get(UPLOAD_URL)
    html = page.content.decode()
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="file" name="files"[^>]* multiple', html)  # one or many files at once
    assert 'name="title"' in html and '<option value="el">' in html  # a title and a language (or detected)
    assert f'<input type="checkbox" name="access_groups" value="{finance.pk}"' in html  # the access groups
    greek = lib_client.get(UPLOAD_URL, HTTP_ACCEPT_LANGUAGE="el").content.decode()
    assert 'value="Ανέβασμα"' in greek  # the submit button, in Greek


@pytest.mark.parametrize("url", [LIST_URL, UPLOAD_URL, "/admin/documents/document/1/change/"])
def test_reader_cannot_reach_the_back_office(client, reader, url):
    client.force_login(reader)
    make_document(title="Internal memo")
    response = client.get(url)
    assert response.status_code == 302  # not staff: sent to the admin login, the page not rendered
    assert response["Location"] == f"/admin/login/?next={url}"
    assert b"Internal memo" not in response.content


def test_reingest_action_requeues_and_audits(lib_client, librarian):
    doc = make_document(status=Document.Status.FAILED, error_code="parse_error", error_message="bad", attempts=3)
    lib_client.post(LIST_URL, {"action": "reingest_selected", "_selected_action": [doc.pk]}, follow=True)
    doc.refresh_from_db()
    assert (doc.status, doc.error_code, doc.attempts, doc.progress) == ("queued", "", 0, 0)
    assert AuditLog.objects.filter(action="document_reingest_requested", target_id=str(doc.pk)).exists()


def test_delete_action_hides_the_document_and_audits(lib_client, librarian, reader, finance):
    doc = make_document(groups=[finance])
    lib_client.post(LIST_URL, {"action": "delete_selected_documents", "_selected_action": [doc.pk]}, follow=True)
    doc.refresh_from_db()
    assert doc.deleted_at is not None and doc.stage == "deleting"
    assert not Document.objects.visible_to(reader).exists()
    assert doc.title not in lib_client.get(LIST_URL).content.decode()
    assert AuditLog.objects.filter(action="document_delete_requested", target_id=str(doc.pk)).exists()


def test_changing_access_groups_in_the_admin_is_audited(lib_client, finance):
    doc = make_document()
    response = lib_client.post(
        f"/admin/documents/document/{doc.pk}/change/",
        {
            "title": "Renamed",
            "language": "el",
            "access_groups": [finance.pk],
            "chunks-TOTAL_FORMS": "0",
            "chunks-INITIAL_FORMS": "0",
            "chunks-MIN_NUM_FORMS": "0",
            "chunks-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    doc.refresh_from_db()
    assert doc.title == "Renamed" and list(doc.access_groups.all()) == [finance]
    row = AuditLog.objects.get(action="admin_change", target_id=str(doc.pk))
    assert "Access groups" in str(row.details)
    access = AuditLog.objects.get(action="document_access_changed", target_id=str(doc.pk))
    assert access.details == {"before": [], "after": ["Finance"]}


def test_group_changes_are_audited(client, superuser):
    client.force_login(superuser)
    client.post("/admin/auth/group/add/", {"name": "Board"})
    group = Group.objects.get(name="Board")
    assert AuditLog.objects.filter(action="admin_add", target_type="auth.group", target_id=str(group.pk)).exists()


def test_progress_feed_reports_status(lib_client):
    doc = make_document(status=Document.Status.PROCESSING, progress=40, stage=Document.Stage.EMBEDDING)
    data = lib_client.get(f"/admin/documents/document/progress/?ids={doc.pk},x").json()
    assert data["documents"] == [
        {
            "id": doc.pk,
            "status": "processing",
            "stage": "embedding",
            "progress": 40,
            "error_code": "",
            "error_message": "",
            "page_count": None,
            "language": "",
            "chunks": 0,
        }
    ]


@pytest.mark.parametrize("url", [LIST_URL, "/admin/audit/auditlog/", "/admin/chat/query/"])
def test_list_pages_keep_a_constant_number_of_queries(lib_client, librarian, finance, legal, url):
    from audit.services import audit_log_write

    def add_rows(n):
        for _ in range(n):
            doc = make_document(groups=[finance, legal], uploaded_by=librarian)
            audit_log_write(action="x", ctx=ActorContext.for_user(librarian), target=doc)
            query = Query.objects.create(user=librarian, text=f"question {doc.pk}")
            Response.objects.create(query=query, text="answer", status=Response.Status.COMPLETED)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = lib_client.get(url + "?all=")
            assert response.status_code == 200
        return len(ctx.captured_queries)

    add_rows(10)
    small = count()
    add_rows(190)
    assert Document.objects.count() == 200
    assert count() == small
