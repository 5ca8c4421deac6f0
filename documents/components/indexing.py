"""Haystack components of ingestion's last step: stored chunks to Qdrant points (embed, build points, write).

Wired by :func:`documents.pipelines.indexing_pipeline`. The point schema is DocIntel's, not qdrant-haystack's: the
deterministic point id of each chunk (``Chunk.make_vector_id``, so a re-run upserts and never duplicates), the
named vectors ``dense`` and ``sparse`` (the sparse one of Greek-folded terms,
:func:`documents.services.textnorm.sparse_encode`) and a flat payload (``access_group_ids`` filtered inside Qdrant,
``quarantined``, ``staged``, ...) that the retriever and the payload syncs rely on; the passage text stays in
PostgreSQL. See ``documents.pipelines`` for why the integration's writer does not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from haystack import component

from docintel.errors import VectorStoreUnavailable
from documents.models import Chunk, Document
from documents.services.chunking import embedding_text
from documents.services.vectorstore import PointData


@component
class PassageEmbedder:
    """Dense vectors of the chunks' embedding texts (heading path + text) from the embedding server, in batches."""

    def __init__(self, batch_size: int | None = None) -> None:
        """Set the batch size.

        Args:
            batch_size: Chunks per request; ``None`` reads ``EMBEDDING_BATCH_SIZE`` at run time.
        """
        self.batch_size = batch_size

    @component.output_types(vectors=list[list[float]])
    def run(self, chunks: list[Chunk], progress_callback: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Embed the chunks, in order.

        Args:
            chunks: The chunks to embed.
            progress_callback: Called after each batch with (chunks embedded so far, all chunks).

        Returns:
            ``vectors``: one embedding per chunk, in the order of ``chunks``.

        Raises:
            EmbeddingUnavailable: the embedding server failed (transient).
        """
        from documents.services import embeddings

        batch = self.batch_size or settings.EMBEDDING_BATCH_SIZE
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            vectors.extend(embeddings.embed_passages([embedding_text(c.heading_path, c.text) for c in part]))
            if progress_callback is not None:
                progress_callback(start + len(part), len(chunks))
        return {"vectors": vectors}


@component
class ChunkPointBuilder:
    """The Qdrant points of a document's chunks (:func:`documents.services.ingest.chunk_points`).

    The access groups are read when the points are built (after the embedding, which can take minutes) unless they
    are given; the service compares them with the groups after the write and corrects the payload if they changed.
    """

    @component.output_types(points=list[PointData], access_group_ids=list[int])
    def run(
        self,
        document: Document,
        chunks: list[Chunk],
        vectors: list[list[float]],
        access_group_ids: list[int] | None = None,
    ) -> dict[str, Any]:
        """Build one point per chunk.

        Args:
            document: The chunks' document (its version state decides ``staged``).
            chunks: The chunks, in the order of ``vectors``.
            vectors: Their dense embeddings.
            access_group_ids: The document's access groups, sorted (the reader filter inside Qdrant); ``None``
                reads them from the database now.

        Returns:
            ``points`` (id = the chunk's ``vector_id``, dense + Greek-folded sparse vector, the permission payload)
            and ``access_group_ids`` written into them.
        """
        from documents.services.ingest import chunk_points

        groups = (
            sorted(document.access_groups.values_list("id", flat=True))
            if access_group_ids is None
            else list(access_group_ids)
        )
        points = chunk_points(document=document, chunks=chunks, vectors=vectors, access_group_ids=groups)
        return {"points": points, "access_group_ids": groups}


@component
class QdrantPointWriter:
    """Write a document's points: upsert by id, drop the document's points that are not among them, check the count."""

    @component.output_types(written=int)
    def run(self, document_id: int, points: list[PointData]) -> dict[str, Any]:
        """Replace the document's points (:func:`documents.services.vectorstore.points_replace`).

        Args:
            document_id: The document whose points these are (its stale points are deleted).
            points: All of its points.

        Returns:
            ``written``: the number of points the document has in the store afterwards.

        Raises:
            VectorStoreUnavailable: the store failed, or holds another number of points than written (transient).
        """
        from documents.services import vectorstore

        stored = vectorstore.points_replace(document_id=document_id, points=points)
        if stored != len(points):
            raise VectorStoreUnavailable(f"The vector store holds {stored} points for {len(points)} chunks.")
        return {"written": stored}
