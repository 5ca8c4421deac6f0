"""Helpers of the answering tests: index chunks straight through the ingestion services (no Docling)."""

from __future__ import annotations

from collections.abc import Callable

from documents.models import Chunk, Document
from documents.services.embeddings import embed_passages
from documents.services.ingest import chunk_points
from documents.services.vectorstore import points_replace


def index_document(
    document: Document,
    texts: list[str],
    *,
    pages: list[int | None] | None = None,
    embed: Callable[[list[str]], list[list[float]]] = embed_passages,
) -> list[Chunk]:
    """Create the document's chunks, embed them and upsert the points ingestion would write (``chunk_points``)."""
    chunks = Chunk.objects.bulk_create(
        Chunk(
            document=document,
            ordinal=i,
            text=text,
            page_start=(pages[i] if pages else None),
            page_end=(pages[i] if pages else None),
            vector_id=Chunk.make_vector_id(document.pk, i),
            language=document.language,
        )
        for i, text in enumerate(texts)
    )
    group_ids = sorted(document.access_groups.values_list("id", flat=True))
    points = chunk_points(document=document, chunks=chunks, vectors=embed(texts), access_group_ids=group_ids)
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
