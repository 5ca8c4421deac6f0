"""The ingestion pipeline's work: parse → (OCR) → chunk → embed → index, delete, access sync.

Each step claims its work with a conditional UPDATE (status, stage and an attempt counter), so a redelivered or
re-run task either resumes the same step or stops; chunks and points have deterministic ids, so a re-run replaces,
never appends. Progress is stored on the row and published to the admin's live list.

The work of a claimed step is a Haystack pipeline (:mod:`documents.pipelines`): convert → clean → chunk → scan for
``document_ingest`` and ``document_ocr``, embed → build points → write for ``document_embed``. What surrounds a run
stays here: the claim, the file checks, the chunks' transaction, the progress, the re-syncs after the write and the
completion (or version switch).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from docintel.errors import DocumentRejected, VectorStoreUnavailable
from documents.events import publish_progress
from documents.models import Chunk, Document
from documents.services.chunking import ChunkDraft, detect_language, embedding_text
from documents.services.validation import ARCHIVE_TYPES, IMAGE_TYPES, PDF, ZIP, file_sniff, ooxml_check_sizes

if TYPE_CHECKING:
    from documents.services.cleaning import CleanReport
    from documents.services.parsing import Conversion
    from documents.services.vectorstore import PointData

log = structlog.get_logger(__name__)

Stage = Document.Stage
Status = Document.Status


class NextStep(enum.StrEnum):
    """What the task enqueues after a step."""

    OCR = "ocr"
    EMBED = "embed"
    NONE = "none"


# --- state ------------------------------------------------------------------------------------------------------
def _publish(document_id: int) -> None:
    row = Document.objects.filter(pk=document_id).values("status", "stage", "progress", "error_code").first()
    if row is None:
        return
    publish_progress(
        {
            "id": document_id,
            "status": row["status"],
            "stage": row["stage"],
            "stage_display": str(Stage(row["stage"]).label),
            "progress": int(row["progress"]),
            "error_code": row["error_code"],
        }
    )


def _advance(document_id: int, *, stage: str, progress: int, **fields: Any) -> None:
    """Record progress of a claimed document (only while it is still processing and not being deleted)."""
    Document.objects.filter(pk=document_id, status=Status.PROCESSING, deleted_at__isnull=True).update(
        stage=stage, progress=progress, updated_at=timezone.now(), **fields
    )
    _publish(document_id)


def document_claim(*, document_id: int, stages: tuple[str, ...], stage: str, progress: int) -> Document | None:
    """Claim a step: move the document to ``processing``/``stage`` if it waits for one of ``stages``.

    A document already processing in one of ``stages`` (a redelivered task after a crash) is claimed again, which
    counts an attempt; past ``DOCINTEL_MAX_ATTEMPTS`` it is failed (a poison document is not retried forever).

    Args:
        document_id: The document.
        stages: The stages in which the step may take it (its own, and the one before it hands over from).
        stage: The stage it is moved to.
        progress: The progress shown once claimed (percent).

    Returns:
        The claimed document, or ``None`` when there is nothing to do.
    """
    base = Document.objects.filter(pk=document_id, deleted_at__isnull=True, stage__in=stages)
    claimable = base.filter(status__in=[Status.QUEUED, Status.PROCESSING])
    updated = claimable.filter(attempts__lt=settings.DOCINTEL_MAX_ATTEMPTS).update(
        status=Status.PROCESSING, stage=stage, progress=progress, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not updated:
        poisoned = claimable.filter(attempts__gte=settings.DOCINTEL_MAX_ATTEMPTS).first()
        if poisoned is not None:
            document_fail(
                document_id=document_id,
                code="too_many_attempts",
                message=f"Ingestion was attempted {poisoned.attempts} times without finishing; not retried again.",
            )
        log.info("document_claim_skipped", document_id=document_id, stages=list(stages))
        return None
    _publish(document_id)
    return Document.objects.get(pk=document_id)


def document_fail(*, document_id: int, code: str, message: str) -> None:
    """Mark a document failed with an error code (terminal) and publish it.

    Args:
        document_id: The document (nothing happens when it is gone or being deleted).
        code: The error code shown to the librarian (``DocumentRejected.code``, ``timeout``, ...).
        message: What went wrong, in words.
    """
    document = Document.objects.filter(pk=document_id, deleted_at__isnull=True).first()
    if document is None:
        return
    document.mark_failed(code=code, message=message)
    log.warning("document_failed", document_id=document_id, error_code=code)
    _publish(document_id)


def _stage_done(document_id: int, *, stage: str, progress: int, **fields: Any) -> None:
    """Hand over to the next step: its attempts start from zero."""
    _advance(document_id, stage=stage, progress=progress, attempts=0, **fields)


def _file_path(document: Document) -> Path:
    path = Path(document.file.path).resolve()
    media = Path(settings.MEDIA_ROOT).resolve()
    if media not in path.parents:
        raise DocumentRejected("The stored file is outside the media directory.", code="invalid_path")
    if not path.is_file():
        raise DocumentRejected("The stored file is missing.", code="file_missing")
    return path


def _check_file(document: Document, path: Path) -> Any:
    """Re-check what the upload checked (the file may have been replaced on disk) and inspect it."""
    from documents.services.parsing import Inspection, image_inspect, pdf_inspect

    size = path.stat().st_size
    if size > settings.DOCINTEL_MAX_UPLOAD_BYTES:
        raise DocumentRejected("The file is larger than the upload limit.", code="file_too_large")
    with path.open("rb") as handle:
        sniffed = file_sniff(fileobj=handle, filename=document.original_filename)
        if sniffed.mime_type != document.mime_type:
            raise DocumentRejected(
                f"The file's content ({sniffed.mime_type}) does not match its recorded type.", code="type_mismatch"
            )
        if sniffed.mime_type in ARCHIVE_TYPES:
            ooxml_check_sizes(fileobj=handle)
    if document.mime_type == PDF:
        return pdf_inspect(path)
    if document.mime_type in IMAGE_TYPES:
        return image_inspect(path)
    return Inspection(page_count=None)


def _chunks_replace(document: Document, drafts: list[ChunkDraft], flags: list[tuple[bool, str]] | None = None) -> int:
    """Replace the document's chunks (delete + insert in one transaction; ordinals give stable vector ids).

    Each chunk's text, headings and the document's title are scanned for injected instructions (the pipeline's
    ``InjectionScanner`` passes its ``flags``; without them they are computed here): a flagged chunk is quarantined
    (held out of retrieval) until a librarian releases it (``documents.services.quarantine``). A release survives a
    re-ingest of the same text at the same place.
    """
    if flags is None:
        from documents.services.quarantine import chunks_flag  # loads the guard rules lazily

        flags = chunks_flag(document=document, drafts=drafts)
    rows = [
        Chunk(
            document=document,
            ordinal=ordinal,
            text=draft.text,
            kind=draft.kind,
            page_start=draft.page_start,
            page_end=draft.page_end,
            heading_path=draft.heading_path,
            bbox=draft.bbox,
            token_count=draft.token_count,
            vector_id=Chunk.make_vector_id(document.pk, ordinal),
            language=draft.language or document.language,
            injection_flag=flagged,
            injection_rule=rule,
            meta=draft.meta,
        )
        for ordinal, (draft, (flagged, rule)) in enumerate(zip(drafts, flags, strict=True))
    ]
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).first()
        released = {
            (c.ordinal, c.text): (c.released_at, c.released_by_id)
            for c in Chunk.objects.filter(document=document, injection_flag=True, released_at__isnull=False)
        }
        for row in rows:
            if row.injection_flag and (row.ordinal, row.text) in released:
                row.released_at, row.released_by_id = released[(row.ordinal, row.text)]
        Chunk.objects.filter(document=document).delete()
        Chunk.objects.bulk_create(rows, batch_size=500)
    flagged = sum(1 for row in rows if row.quarantined)
    if flagged:
        log.warning("chunks_quarantined", document_id=document.pk, quarantined=flagged, chunks=len(rows))
    return len(rows)


def _language_of(drafts: list[ChunkDraft]) -> str:
    return detect_language(" ".join(d.text for d in drafts[:50]))


class _Converted:
    """What the conversion pipeline made of a file: the row read again, the conversion, the chunks and their flags."""

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.document: Document = outputs["splitter"]["document"]
        self.conversion: Conversion = outputs["cleaner"]["conversion"]
        self.report: CleanReport = outputs["cleaner"]["report"]
        self.drafts: list[ChunkDraft] = outputs["scanner"]["drafts"]
        self.flags: list[tuple[bool, str]] = outputs["scanner"]["flags"]


def _convert(document: Document, path: Path, *, ocr: bool = False, engine: str = "tesseract") -> _Converted:
    """Run the conversion pipeline (convert → children → clean → chunk → scan) on a claimed document's file.

    Raises:
        DocumentRejected: the file cannot be converted or holds no text (terminal).
    """
    from documents.pipelines import conversion_pipeline, pipeline_run

    document_id = document.pk

    def chunking_started() -> None:
        _advance(document_id, stage=Stage.CHUNKING, progress=45)

    outputs = pipeline_run(
        conversion_pipeline(),
        {
            "converter": {"path": path, "mime_type": document.mime_type, "ocr": ocr, "engine": engine},
            "splitter": {"document": document},
            "cleaner": {"progress_callback": chunking_started},
        },
        include_outputs_from={"splitter", "cleaner"},
    )
    return _Converted(outputs)


def _save_conversion(converted: _Converted, *, ocr_pages: list[int] | None = None) -> None:
    """Store a conversion's chunks and what it found; hand the document over to the embedding step."""
    document, conversion, cleaned, drafts = converted.document, converted.conversion, converted.report, converted.drafts
    count = _chunks_replace(document, drafts, converted.flags)
    info = dict(document.ingest_info or {})
    info.update(conversion.info)
    info.update(
        {
            "parser": conversion.parser,
            "conversion_seconds": round(conversion.seconds, 3),
            "chunks": count,
            "tokens": sum(d.token_count for d in drafts),
            "page_furniture": {"items": cleaned.furniture_items, "texts": cleaned.running()},
            "hyphens_joined": cleaned.hyphens_joined,
        }
    )
    if ocr_pages is not None:
        info["ocr_pages"] = ocr_pages
        info["ocr_confidence"] = {str(k): v for k, v in sorted(conversion.ocr_confidence.items())}
    _stage_done(
        document.pk,
        stage=Stage.EMBEDDING,
        progress=55,
        parser=conversion.parser,
        page_count=conversion.page_count or document.page_count,
        language=document.language or _language_of(drafts),
        ingest_info=info,
    )


# --- steps ------------------------------------------------------------------------------------------------------
def document_ingest(*, document_id: int) -> NextStep:
    """Step 1: check and parse the file; chunk it, or hand it to OCR when pages have no text layer.

    Raises:
        DocumentRejected: the file cannot be ingested (terminal; the task marks the document failed).
    """
    document = document_claim(
        document_id=document_id, stages=(Stage.UPLOADED, Stage.PARSING), stage=Stage.PARSING, progress=5
    )
    if document is None:
        return NextStep.NONE
    path = _file_path(document)
    inspection = _check_file(document, path)
    _advance(document_id, stage=Stage.PARSING, progress=15, page_count=inspection.page_count)
    if inspection.needs_ocr:
        info = dict(document.ingest_info or {})
        info["pages_without_text"] = inspection.pages_without_text
        _stage_done(document_id, stage=Stage.OCR, progress=20, ingest_info=info)
        return NextStep.OCR
    if document.mime_type == ZIP:
        return _archive_unpack(document, path)
    _save_conversion(_convert(document, path))
    return NextStep.EMBED


def _archive_unpack(document: Document, path: Path) -> NextStep:
    """A ZIP archive: each member becomes a child document; the archive itself completes without chunks.

    Raises:
        DocumentRejected: ``no_supported_files`` when no member could be ingested.
    """
    from documents.services.children import children_create
    from documents.services.formats import zip_members

    _advance(document.pk, stage=Stage.PARSING, progress=30)
    members = children_create(document=document, members=list(zip_members(path)))
    info = dict(document.ingest_info or {})
    info.update({"parser": "docintel-zip", "members": members, "chunks": 0})
    if not any(m["status"] in ("created", "exists") for m in members):
        Document.objects.filter(pk=document.pk).update(ingest_info=info)
        codes = sorted({str(m.get("code")) for m in members}) or ["empty archive"]
        raise DocumentRejected(
            f"No file of the archive could be ingested ({', '.join(codes)}).", code="no_supported_files"
        )
    Document.objects.filter(pk=document.pk, status=Status.PROCESSING, deleted_at__isnull=True).update(
        status=Status.COMPLETED,
        stage=Stage.DONE,
        progress=100,
        parser="docintel-zip",
        ingest_info=info,
        attempts=0,
        processed_at=timezone.now(),
        updated_at=timezone.now(),
    )
    _publish(document.pk)
    log.info("document_archive_unpacked", document_id=document.pk, members=len(members))
    return NextStep.NONE


def document_ocr(*, document_id: int, engine: str = "tesseract") -> NextStep:
    """Step 2 (scans and images): convert with OCR, keep per-page confidence, chunk.

    Args:
        document_id: The document waiting for OCR.
        engine: The requested engine; another one is used when it cannot read the document's language
            (``documents.services.ocr.ocr_engine_for``), recorded in ``ingest_info``.

    Returns:
        ``NextStep.EMBED``, or ``NextStep.NONE`` when there was nothing to claim.

    Raises:
        OcrEngineUnavailable: the engine or its models are missing here (checked before any work).
        DocumentRejected: the file cannot be read.
    """
    from documents.services.ocr import EASYOCR, ocr_engine_check, ocr_engine_for, scan_language_probe

    document = document_claim(document_id=document_id, stages=(Stage.OCR,), stage=Stage.OCR, progress=25)
    if document is None:
        return NextStep.NONE
    ocr_engine_check(engine)
    path = _file_path(document)
    language = document.language
    if engine == EASYOCR and not language:
        language = scan_language_probe(path=path, mime_type=document.mime_type)
    used, note = ocr_engine_for(engine=engine, language=language)
    if used != engine:
        ocr_engine_check(used)
        log.info("ocr_engine_substituted", document_id=document_id, requested=engine, used=used, language=language)
    converted = _convert(document, path, ocr=True, engine=used)
    document = converted.document  # read again after the conversion
    pages = list((document.ingest_info or {}).get("pages_without_text") or [])
    info = dict(document.ingest_info or {})
    info["ocr_engine"] = used
    info["ocr_requested_engine"] = engine
    if note:
        info["ocr_note"] = note
    else:
        info.pop("ocr_note", None)
    document.ingest_info = info
    _save_conversion(converted, ocr_pages=pages)
    return NextStep.EMBED


def document_embed(*, document_id: int) -> NextStep:
    """Step 3: embed the chunks (batched), upsert dense + sparse vectors with the permission payload, complete.

    A version that is not current writes its points ``staged`` (out of search) and then becomes current in one
    step (``documents.services.versions.version_complete``); the current version stays searchable until then.

    Raises:
        EmbeddingUnavailable, VectorStoreUnavailable: transient; the task retries.
    """
    from documents.pipelines import indexing_pipeline, pipeline_run
    from documents.services.vectorstore import points_set_access

    document = document_claim(
        document_id=document_id, stages=(Stage.EMBEDDING, Stage.INDEXING), stage=Stage.EMBEDDING, progress=60
    )
    if document is None:
        return NextStep.NONE
    chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
    if not chunks:
        raise DocumentRejected("The document has no chunks to index.", code="empty_document")

    def embedded(done: int, total: int) -> None:
        _advance(document_id, stage=Stage.EMBEDDING, progress=60 + int(30 * done / total))
        if done == total:
            _advance(document_id, stage=Stage.INDEXING, progress=92)

    outputs = pipeline_run(
        indexing_pipeline(),
        {
            "embedder": {"chunks": chunks, "progress_callback": embedded},
            "points": {"document": document, "chunks": chunks},
            "writer": {"document_id": document.pk},
        },
        include_outputs_from={"points"},
    )
    groups = outputs["points"]["access_group_ids"]  # read once the chunks were embedded
    # The groups may have changed while the chunks were embedded, and their sync task may have run before these
    # points were written: read them again and correct the payload (a later change enqueues its own sync).
    current = sorted(document.access_groups.values_list("id", flat=True))
    if current != groups:
        points_set_access(document_id=document.pk, access_group_ids=current)
        log.info("document_access_resynced", document_id=document.pk, groups=current)
    # Likewise a librarian may have released or quarantined a passage meanwhile.
    _quarantine_resync(chunks)
    if not Document.objects.filter(pk=document_id, is_current=True).exists():  # read again: it may have changed
        from documents.services.versions import version_complete

        switched = version_complete(document_id=document_id)
        log.info("document_ingested", document_id=document_id, chunks=len(chunks), version_switched=switched)
        return NextStep.NONE
    updated = Document.objects.filter(pk=document_id, status=Status.PROCESSING, deleted_at__isnull=True).update(
        status=Status.COMPLETED, stage=Stage.DONE, progress=100, processed_at=timezone.now(), updated_at=timezone.now()
    )
    _publish(document_id)
    log.info("document_ingested", document_id=document_id, chunks=len(chunks), completed=bool(updated))
    return NextStep.NONE


def chunk_points(
    *, document: Document, chunks: list[Chunk], vectors: list[list[float]], access_group_ids: list[int]
) -> list[PointData]:
    """The Qdrant points of a document's chunks: dense vector, Greek-folded sparse vector, the permission payload.

    Args:
        document: the chunks' document (its version state decides ``staged``).
        chunks: the chunks, in the order of ``vectors``.
        vectors: their dense embeddings (of :func:`~documents.services.chunking.embedding_text`: heading path + text).
        access_group_ids: the document's access groups, sorted (the reader filter inside Qdrant).

    Returns:
        One point per chunk, id = the chunk's deterministic ``vector_id`` (a rerun upserts, never duplicates).
    """
    from documents.services.textnorm import sparse_encode
    from documents.services.vectorstore import PointData  # qdrant-client loads with it

    staged = not document.is_current  # a new or restored version: out of search until the switch (services.versions)
    points = []
    for chunk, dense in zip(chunks, vectors, strict=True):
        indices, values = sparse_encode(embedding_text(chunk.heading_path, chunk.text))
        points.append(
            PointData(
                id=str(chunk.vector_id),
                dense=dense,
                sparse_indices=indices,
                sparse_values=values,
                payload={
                    "document_id": document.pk,
                    "chunk_id": chunk.pk,
                    "access_group_ids": access_group_ids,
                    "language": chunk.language or document.language,
                    "page": chunk.page_start,
                    "ordinal": chunk.ordinal,
                    "mime_type": document.mime_type,
                    "quarantined": chunk.quarantined,
                    "staged": staged,
                },
            )
        )
    return points


def _quarantine_resync(chunks: list[Chunk]) -> None:
    """Correct the quarantine flag of points whose chunk changed state while the document was being embedded."""
    from documents.services.vectorstore import points_set_quarantine

    rows = Chunk.objects.filter(pk__in=[c.pk for c in chunks]).values_list("pk", "injection_flag", "released_at")
    now = {pk: flag and released_at is None for pk, flag, released_at in rows}
    changed: dict[bool, list[str]] = {True: [], False: []}
    for chunk in chunks:
        if chunk.pk in now and now[chunk.pk] != chunk.quarantined:
            changed[now[chunk.pk]].append(str(chunk.vector_id))
    for value, ids in changed.items():
        if ids:
            points_set_quarantine(point_ids=ids, quarantined=value)
            log.info("chunk_quarantine_resynced", document_id=chunks[0].document_id, points=len(ids), quarantined=value)


def document_delete_cascade(*, document_id: int) -> bool:
    """Remove a document marked for deletion: vectors first (no orphan point may remain), then chunks, file, row.

    Returns:
        ``True`` when the document was removed, ``False`` when there was nothing to do.

    Raises:
        VectorStoreUnavailable: the points could not all be removed (transient; retried, nothing else deleted).
    """
    from documents.services.vectorstore import points_delete_document

    document = Document.objects.filter(pk=document_id, deleted_at__isnull=False).first()
    if document is None:
        return False
    left = points_delete_document(document_id=document_id)
    if left:
        raise VectorStoreUnavailable(f"{left} points of document {document_id} are still in the vector store.")
    with transaction.atomic():
        Chunk.objects.filter(document_id=document_id).delete()
        name = document.file.name
        Document.objects.filter(pk=document_id).delete()
        transaction.on_commit(lambda: document.file.storage.delete(name) if name else None)
    log.info("document_deleted", document_id=document_id)
    return True


def document_access_sync(*, document: Document) -> None:
    """Rewrite the access groups on the document's points after they changed (retrieval filters inside Qdrant)."""
    from documents.services.vectorstore import points_set_access

    groups = sorted(document.access_groups.values_list("id", flat=True))
    points_set_access(document_id=document.pk, access_group_ids=groups)
    log.info("document_access_synced", document_id=document.pk, groups=groups)
