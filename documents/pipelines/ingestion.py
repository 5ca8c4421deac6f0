"""Factories of the ingestion pipelines (Haystack), one per Celery step; called only from ``documents.services``.

- :func:`conversion_pipeline` (steps ``ingest_document`` and ``process_ocr``): file -> :class:`FileConverter`
  (Docling) -> :class:`AttachmentSplitter` (row read again, e-mail attachments become children) ->
  :class:`StructureCleaner` (page furniture out, hyphenation joined) -> :class:`StructureChunker` ->
  :class:`InjectionScanner` (quarantine flags). The service then replaces the chunks in one transaction.
- :func:`indexing_pipeline` (step ``generate_embeddings``): stored chunks -> :class:`PassageEmbedder` ->
  :class:`ChunkPointBuilder` (ids, dense + Greek-folded sparse vectors, permission payload) ->
  :class:`QdrantPointWriter`. The service then re-syncs access groups and quarantine flags that changed meanwhile
  and completes the document (or switches its version).

The claims (a conditional UPDATE per step, attempts counted) stay in the service around each run: a pipeline is the
work of one claimed step, never a unit of retry. Pipelines are built per run (cheap: the Docling converters are cached
per process in ``documents.services.parsing``); the components read settings when they run.

Integrations considered (issue 14), both resolvable with haystack-ai 3.4.0, docling 2.143.0, qdrant-client 1.20.0
(docling-haystack 3.0.0, qdrant-haystack 13.1.0) and not used:

- ``docling_haystack.DoclingConverter`` keeps only ``ConversionResult.document``: the status, the errors (how a
  timeout is told from a broken file), the per-page OCR confidence and the page count are lost, so are the coded
  rejections; it returns Haystack ``Document`` objects (one Markdown text, a JSON string, or chunks from its own
  chunker), leaving no place for the cleaning that must run on Docling's structured document between conversion
  and chunking; its default chunker fetches a tokenizer from the model hub. Plain text and e-mail are not Docling.
- ``qdrant-haystack``'s ``QdrantDocumentStore`` + ``DocumentWriter`` would change the stored schema: point ids are
  ``uuid5`` of the Haystack document id (not ``Chunk.make_vector_id``), vectors are named ``text-dense`` /
  ``text-sparse``, the payload is ``Document.to_dict`` (the chunk text in Qdrant, metadata nested under ``meta``, so
  the ``access_group_ids`` / ``quarantined`` / ``staged`` filters and payload indexes would move), and a write does not
  delete a re-ingested document's stale points nor report how many the document holds.
"""

from __future__ import annotations

from typing import Any

from haystack import Pipeline
from haystack.core.errors import PipelineRuntimeError

from documents.components.conversion import (
    AttachmentSplitter,
    FileConverter,
    InjectionScanner,
    StructureChunker,
    StructureCleaner,
)
from documents.components.indexing import ChunkPointBuilder, PassageEmbedder, QdrantPointWriter


def conversion_pipeline() -> Pipeline:
    """Stored file -> Docling conversion -> children -> cleaning -> chunks -> injection flags.

    Inputs: ``converter`` (``path``, ``mime_type``, ``ocr``, ``engine``), ``splitter.document``,
    ``cleaner.progress_callback``. Outputs: ``scanner.drafts``, ``scanner.flags``; run it with
    ``include_outputs_from={"splitter", "cleaner"}`` for the refreshed document, the conversion and the clean report.

    Returns:
        A new pipeline.
    """
    pipeline = Pipeline()
    pipeline.add_component("converter", FileConverter())
    pipeline.add_component("splitter", AttachmentSplitter())
    pipeline.add_component("cleaner", StructureCleaner())
    pipeline.add_component("chunker", StructureChunker())
    pipeline.add_component("scanner", InjectionScanner())
    pipeline.connect("converter.conversion", "splitter.conversion")
    pipeline.connect("splitter.conversion", "cleaner.conversion")
    pipeline.connect("cleaner.conversion", "chunker.conversion")
    pipeline.connect("cleaner.report", "chunker.report")
    pipeline.connect("chunker.drafts", "scanner.drafts")
    pipeline.connect("splitter.document", "scanner.document")
    return pipeline


def indexing_pipeline() -> Pipeline:
    """Stored chunks -> dense embeddings -> Qdrant points (ids, sparse vectors, permission payload) -> written.

    Inputs: ``embedder`` (``chunks``, ``progress_callback``), ``points`` (``document``, ``chunks``,
    ``access_group_ids``), ``writer.document_id``. Output: ``writer.written``.

    Returns:
        A new pipeline.
    """
    pipeline = Pipeline()
    pipeline.add_component("embedder", PassageEmbedder())
    pipeline.add_component("points", ChunkPointBuilder())
    pipeline.add_component("writer", QdrantPointWriter())
    pipeline.connect("embedder.vectors", "points.vectors")
    pipeline.connect("points.points", "writer.points")
    return pipeline


def pipeline_run(
    pipeline: Pipeline, data: dict[str, dict[str, Any]], *, include_outputs_from: set[str] | None = None
) -> dict[str, Any]:
    """Run an ingestion pipeline; a component's own exception is raised as itself, not wrapped.

    Haystack wraps what a component raises in ``PipelineRuntimeError``; the tasks decide on the original (a coded
    ``DocumentRejected`` fails the document, a ``TransientError`` is retried, ``SoftTimeLimitExceeded`` times out).

    Args:
        pipeline: A pipeline of this module.
        data: The inputs, per component.
        include_outputs_from: Components whose outputs are returned too.

    Returns:
        The outputs, per component.

    Raises:
        Exception: whatever a component raised.
    """
    try:
        return pipeline.run(data, include_outputs_from=include_outputs_from)
    except PipelineRuntimeError as exc:
        error = exc
    # raised outside the handler: the original keeps its own cause and traceback, with no pipeline error chained
    cause = error.__cause__
    if isinstance(cause, Exception):
        raise cause
    raise error
