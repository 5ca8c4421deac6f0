"""Helpers of the answering tests: index chunks straight through the ingestion services (no Docling)."""

from __future__ import annotations

from collections.abc import Callable

from documents.models import Chunk, Document
from documents.services.embeddings import embed_passages
from documents.services.textnorm import sparse_encode
from documents.services.vectorstore import PointData, points_replace


def index_document(
    document: Document,
    texts: list[str],
    *,
    pages: list[int | None] | None = None,
    embed: Callable[[list[str]], list[list[float]]] = embed_passages,
) -> list[Chunk]:
    """Create the document's chunks, embed them and upsert their points (payload per CONTRACTS.md)."""
    chunks = [
        Chunk.objects.create(
            document=document,
            ordinal=i,
            text=text,
            page_start=(pages[i] if pages else None),
            page_end=(pages[i] if pages else None),
            vector_id=Chunk.make_vector_id(document.pk, i),
            language=document.language,
        )
        for i, text in enumerate(texts)
    ]
    vectors = embed(texts)
    group_ids = sorted(document.access_groups.values_list("id", flat=True))
    points = []
    for chunk, vector in zip(chunks, vectors, strict=True):
        indices, values = sparse_encode(chunk.text)
        points.append(
            PointData(
                id=str(chunk.vector_id),
                dense=vector,
                sparse_indices=indices,
                sparse_values=values,
                payload={
                    "document_id": document.pk,
                    "chunk_id": chunk.pk,
                    "access_group_ids": group_ids,
                    "language": document.language,
                    "page": chunk.page_start,
                    "ordinal": chunk.ordinal,
                    "mime_type": document.mime_type,
                },
            )
        )
    points_replace(document_id=document.pk, points=points)
    return chunks


def use_stack(settings, *, llm_url: str, embedding_url: str, qdrant_url: str) -> None:
    """Point the settings at the session's real servers and a fresh collection for this test."""
    import uuid

    settings.LLM_BASE_URL = llm_url
    settings.EMBEDDING_BASE_URL = embedding_url
    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"t{uuid.uuid4().hex[:10]}"
    settings.LLM_MAX_TOKENS = 40
    settings.LLM_TEMPERATURE = 0.0
    settings.DOCINTEL_NEMO_RAILS = []
    from guards import guards_warm_up

    guards_warm_up()  # once per process: a cold LLM Guard would spend the answer's time budget
