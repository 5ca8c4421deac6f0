"""``document_delete_cascade`` on the real vector store: the document's points, chunks, file and row go, nothing else.

The points are written as ingestion writes them (``chunk_points`` + ``points_replace``) with fixed vectors, so no
embedding server is needed; the store is the session's ``manage.py vectorstore``. The store failing to remove every
point (which a real store cannot be made to do on demand) is in ``test_services_ingest_points.py``.
"""

from __future__ import annotations

import uuid

import pytest

from docintel.errors import VectorStoreUnavailable
from documents.models import Chunk, Document
from documents.services import ingest, vectorstore
from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db

TEXTS = {
    "en": ["The annual budget was approved in March.", "The audit committee meets every quarter."],
    "el": ["Ο ετήσιος προϋπολογισμός εγκρίθηκε τον Μάρτιο.", "Η επιτροπή ελέγχου συνεδριάζει κάθε τρίμηνο."],
}
LANGUAGES = pytest.mark.parametrize("language", ["en", "el"])


@pytest.fixture
def store(settings, qdrant_url):
    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"d{uuid.uuid4().hex[:10]}"
    return settings


def _indexed(language: str, groups=()) -> Document:
    doc = make_document(title=f"Budget ({language})", language=language, groups=groups, mime_type="text/markdown")
    chunks = [make_chunk(doc, i, text, language=language) for i, text in enumerate(TEXTS[language])]
    dim = vectorstore.embedding_dimension()
    vectors = [[1.0 if j == i else 0.0 for j in range(dim)] for i in range(len(chunks))]
    groups_ids = sorted(doc.access_groups.values_list("id", flat=True))
    points = ingest.chunk_points(document=doc, chunks=chunks, vectors=vectors, access_group_ids=groups_ids)
    assert vectorstore.points_replace(document_id=doc.pk, points=points) == len(chunks)
    return doc


def _mark_deleted(doc: Document) -> None:
    Document.objects.filter(pk=doc.pk).update(deleted_at=doc.created_at, stage=Document.Stage.DELETING)


@LANGUAGES
def test_the_cascade_removes_the_documents_points_chunks_file_and_row_and_nothing_else(
    store, finance, language, django_capture_on_commit_callbacks
):
    doc = _indexed(language, groups=[finance])
    other = _indexed("el" if language == "en" else "en", groups=[finance])
    name = str(doc.file.name)
    _mark_deleted(doc)
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.document_delete_cascade(document_id=doc.pk) is True
    assert vectorstore.points_count_document(document_id=doc.pk) == 0
    assert not Chunk.objects.filter(document_id=doc.pk).exists() and not Document.objects.filter(pk=doc.pk).exists()
    assert not doc.file.storage.exists(name)
    # the other document, in the other language, is untouched
    assert vectorstore.points_count_document(document_id=other.pk) == len(TEXTS["el" if language == "en" else "en"])
    assert other.chunks.count() == 2 and other.file.storage.exists(str(other.file.name))
    assert ingest.document_delete_cascade(document_id=doc.pk) is False  # a redelivered task: nothing to do


@LANGUAGES
def test_a_document_not_marked_for_deletion_is_left_alone(store, language, django_capture_on_commit_callbacks):
    doc = _indexed(language)
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.document_delete_cascade(document_id=doc.pk) is False
    assert vectorstore.points_count_document(document_id=doc.pk) == 2
    assert doc.chunks.count() == 2 and doc.file.storage.exists(str(doc.file.name))


@LANGUAGES
def test_with_the_store_unreachable_nothing_is_deleted(store, language, django_capture_on_commit_callbacks):
    from devstack import localservers

    doc = _indexed(language)
    _mark_deleted(doc)
    reachable = store.QDRANT_URL
    store.QDRANT_URL = f"http://127.0.0.1:{localservers.free_port()}"  # nothing listens there
    with pytest.raises(VectorStoreUnavailable), django_capture_on_commit_callbacks(execute=True):
        ingest.document_delete_cascade(document_id=doc.pk)
    assert Document.objects.filter(pk=doc.pk).exists() and doc.chunks.count() == 2
    assert doc.file.storage.exists(str(doc.file.name))
    store.QDRANT_URL = reachable
    assert vectorstore.points_count_document(document_id=doc.pk) == 2  # the retried task will find them all
