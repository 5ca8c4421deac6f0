"""Default-deny visibility and the row-level rules of Document and Chunk."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from documents.models import Chunk, Document
from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db


def test_document_without_groups_is_visible_to_librarians_only(librarian, reader, outsider, superuser):
    doc = make_document()
    assert list(Document.objects.visible_to(librarian)) == [doc]
    assert list(Document.objects.visible_to(superuser)) == [doc]
    assert list(Document.objects.visible_to(reader)) == []
    assert list(Document.objects.visible_to(outsider)) == []


def test_reader_sees_documents_of_their_groups_only(reader, outsider, finance, legal):
    mine = make_document(groups=[finance])
    make_document(groups=[legal])
    both = make_document(groups=[finance, legal])
    assert set(Document.objects.visible_to(reader)) == {mine, both}
    assert Document.objects.visible_to(reader).count() == 2  # no duplicates from the join
    assert list(Document.objects.visible_to(outsider)) == []


def test_reader_does_not_see_unfinished_or_deleted_documents(reader, librarian, finance):
    make_document(groups=[finance], status=Document.Status.PROCESSING)
    make_document(groups=[finance], status=Document.Status.FAILED)
    make_document(groups=[finance], deleted_at=timezone.now())
    assert list(Document.objects.visible_to(reader)) == []
    assert Document.objects.visible_to(librarian).count() == 2


def test_anonymous_and_inactive_users_see_nothing(reader, finance):
    from django.contrib.auth.models import AnonymousUser

    make_document(groups=[finance])
    assert list(Document.objects.visible_to(AnonymousUser())) == []
    reader.is_active = False
    reader.save()
    assert list(Document.objects.visible_to(reader)) == []


def test_sha256_is_unique_among_active_documents_only():
    doc = make_document(content=b"same bytes")
    with pytest.raises(IntegrityError, match="document_sha256_unique_active"), transaction.atomic():
        make_document(content=b"same bytes")
    doc.deleted_at = timezone.now()
    doc.save()
    again = make_document(content=b"same bytes")
    assert again.pk != doc.pk


def test_mark_failed_records_code_and_message():
    doc = make_document(status=Document.Status.PROCESSING)
    doc.mark_failed(code="encrypted", message="The PDF is password protected.")
    doc.refresh_from_db()
    assert (doc.status, doc.error_code, doc.error_message) == ("failed", "encrypted", "The PDF is password protected.")
    assert doc.processed_at is not None


def test_vector_ids_are_deterministic_and_distinct():
    assert Chunk.make_vector_id(1, 0) == Chunk.make_vector_id(1, 0)
    assert Chunk.make_vector_id(1, 0) != Chunk.make_vector_id(1, 1)
    assert Chunk.make_vector_id(1, 1) != Chunk.make_vector_id(11, 1)


def test_chunk_location_describes_page_range_or_heading():
    doc = make_document()
    assert make_chunk(doc, 0, page_start=3, page_end=3).location == "p. 3"
    assert make_chunk(doc, 1, page_start=3, page_end=5).location == "pp. 3-5"
    assert make_chunk(doc, 2, heading_path=["Intro", "Scope"]).location == "Intro › Scope"


def test_upload_path_is_server_generated():
    from documents.models import document_upload_to

    name = document_upload_to(Document(), "../../etc/passwd.pdf")
    assert name.startswith("documents/") and ".." not in name and "passwd" not in name
    assert name.endswith(".pdf")
    assert document_upload_to(Document(), "evil.p$f").endswith(tuple("0123456789abcdef"))
