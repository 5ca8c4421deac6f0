"""Small builders for test rows (no network, no files beyond what the test passes)."""

from __future__ import annotations

import hashlib
import itertools

from django.core.files.base import ContentFile

from documents.models import Chunk, Document

_counter = itertools.count(1)


def make_document(*, status: str = Document.Status.COMPLETED, groups=(), uploaded_by=None, **fields) -> Document:
    n = next(_counter)
    content = fields.pop("content", f"%PDF-1.4 test document {n}".encode())
    doc = Document(
        title=fields.pop("title", f"Document {n}"),
        original_filename=fields.pop("original_filename", f"doc{n}.pdf"),
        sha256=hashlib.sha256(content).hexdigest(),
        mime_type=fields.pop("mime_type", "application/pdf"),
        size_bytes=len(content),
        status=status,
        uploaded_by=uploaded_by,
        **fields,
    )
    doc.file.save(f"doc{n}.pdf", ContentFile(content), save=False)
    doc.save()
    if groups:
        doc.access_groups.set(groups)
    return doc


def make_chunk(document: Document, ordinal: int = 0, text: str = "text", **fields) -> Chunk:
    return Chunk.objects.create(
        document=document,
        ordinal=ordinal,
        text=text,
        vector_id=Chunk.make_vector_id(document.pk, ordinal),
        **fields,
    )
