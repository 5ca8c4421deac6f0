"""Upload, re-ingest and delete documents: the entry points the admin, the API and the import command share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePath
from typing import IO, Any

import structlog
from django.contrib.auth.models import Group
from django.core.files import File
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from kombu.exceptions import OperationalError

from audit.services import audit_log_write
from docintel.errors import DocumentBusy, DocumentRejected, DuplicateDocument
from documents.models import Document
from documents.services.validation import ARCHIVE_TYPES, IMAGE_TYPES, file_check_size, file_sniff, ooxml_check_sizes

log = structlog.get_logger(__name__)


def _sha256(fileobj: IO[bytes]) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    while chunk := fileobj.read(1024 * 1024):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def _clean_filename(name: str) -> str:
    """The client's file name reduced to its last component, for display only."""
    base = PurePath(name.replace("\\", "/")).name.strip().replace("\x00", "")
    return base[:255] or "unnamed"


def _enqueue_on_commit(task_name: str, document_id: int) -> None:
    """Enqueue an ingestion task once the surrounding transaction has committed (never inside it)."""

    def send() -> None:
        from documents import tasks  # noqa: PLC0415 - the task module imports the services

        try:
            getattr(tasks, task_name).delay(document_id)
        except OperationalError as exc:  # broker down: the row stays queued; re-ingest or import retries it
            log.error("task_enqueue_failed", task=task_name, document_id=document_id, error=str(exc))

    transaction.on_commit(send)


def document_upload(
    *,
    fileobj: IO[bytes],
    filename: str,
    size: int,
    uploaded_by: Any,
    title: str = "",
    language: str = "",
    access_groups: Iterable[Group] = (),
    request: HttpRequest | None = None,
    parent: Document | None = None,
    source: str = "",
) -> Document:
    """Validate a file, store it under a server-generated name, create a queued Document and enqueue ingestion.

    Args:
        fileobj: the file's bytes (seekable).
        filename: the client's file name; kept as metadata only.
        size: the file's size in bytes.
        uploaded_by: the librarian who uploads.
        title: the title; defaults to the file name without its extension.
        language: a language hint (``el``, ``en``); detected during ingestion when empty.
        access_groups: groups whose members may read the document (none: librarians only).
        request: the HTTP request, for the audit row.
        parent: the e-mail or archive this file came out of (child documents, see ``documents.services.children``).
        source: the file's path inside ``parent`` (kept in ``ingest_info["source"]``).

    Returns:
        The new Document, status ``queued``.

    Raises:
        FileTooLarge, UnsupportedFileType, DocumentRejected: the file is refused; nothing is stored.
        DuplicateDocument: the same bytes are already in the library (``detail.document_id`` names it).
    """
    original = _clean_filename(filename)
    file_check_size(size=size)
    sniffed = file_sniff(fileobj=fileobj, filename=original)
    if sniffed.mime_type in ARCHIVE_TYPES:
        ooxml_check_sizes(fileobj=fileobj)
    sha256 = _sha256(fileobj)
    existing = Document.objects.active().filter(sha256=sha256).only("id", "title").first()
    if existing is not None:
        raise DuplicateDocument(
            f"This file is already in the library as “{existing.title}”.",
            detail={"document_id": existing.pk, "title": existing.title},
        )

    document = Document(
        title=(title or PurePath(original).stem or original)[:300],
        original_filename=original,
        sha256=sha256,
        mime_type=sniffed.mime_type,
        size_bytes=size,
        language=language,
        uploaded_by=uploaded_by if getattr(uploaded_by, "is_authenticated", False) else None,
        parent=parent,
        ingest_info={"source": source[:500], "parent_id": parent.pk} if parent is not None else {},
    )
    fileobj.seek(0)
    document.file.save(f"upload{sniffed.extension}", File(fileobj), save=False)
    try:
        with transaction.atomic():
            document.save()
            groups = list(access_groups)
            if groups:
                document.access_groups.set(groups)
            audit_log_write(
                action="document_uploaded",
                actor=uploaded_by,
                target=document,
                request=request,
                details={
                    "filename": original,
                    "sha256": sha256,
                    "mime_type": sniffed.mime_type,
                    "size_bytes": size,
                    "access_groups": [g.name for g in groups],
                    **({"parent_id": parent.pk, "source": source[:500]} if parent is not None else {}),
                },
            )
            _enqueue_on_commit("ingest_document", document.pk)
    except IntegrityError as exc:
        document.file.delete(save=False)
        raise DuplicateDocument("This file was uploaded at the same moment by someone else.") from exc
    except BaseException:
        document.file.delete(save=False)
        raise
    log.info("document_uploaded", document_id=document.pk, mime_type=sniffed.mime_type, size_bytes=size)
    return document


def document_reingest(*, document: Document, actor: Any, request: HttpRequest | None = None) -> Document:
    """Queue a document for ingestion again; its chunks and vectors are replaced, never appended.

    Raises:
        DocumentBusy: the document is being deleted.
    """
    with transaction.atomic():
        updated = (
            Document.objects.filter(pk=document.pk, deleted_at__isnull=True)
            .exclude(status=Document.Status.PROCESSING, stage=Document.Stage.DELETING)
            .update(
                status=Document.Status.QUEUED,
                stage=Document.Stage.UPLOADED,
                progress=0,
                error_code="",
                error_message="",
                attempts=0,
                updated_at=timezone.now(),
            )
        )
        if not updated:
            raise DocumentBusy("The document is being deleted.")
        document.refresh_from_db()
        audit_log_write(action="document_reingest_requested", actor=actor, target=document, request=request)
        _enqueue_on_commit("ingest_document", document.pk)
    log.info("document_reingest_requested", document_id=document.pk)
    return document


def document_reocr(*, document: Document, engine: str, actor: Any, request: HttpRequest | None = None) -> Document:
    """Run OCR again on a scan or image with ``engine``; its chunks and vectors are replaced.

    ``tesseract`` runs on the default queue; ``easyocr`` and ``surya`` need a worker on the ``ocr`` queue (their
    environment), which is checked first, so the librarian hears at once when none is running.

    Raises:
        DocumentRejected: ``not_a_scan`` (the document has a text layer: re-ingest it), ``ocr_engine_unavailable``
            (unknown engine, or no worker serves it).
        DocumentBusy: the document is being deleted or is being processed.
    """
    from documents.services.ocr import EXTRA_ENGINES, OCR_QUEUE, TESSERACT, ocr_queue_has_worker  # noqa: PLC0415

    info = dict(document.ingest_info or {})
    if document.mime_type not in IMAGE_TYPES and not info.get("pages_without_text"):
        raise DocumentRejected(
            "This document has a text layer and was not OCR'd; re-ingest it instead.", code="not_a_scan"
        )
    if engine != TESSERACT and engine not in EXTRA_ENGINES:
        raise DocumentRejected(f"Unknown OCR engine {engine!r}.", code="ocr_engine_unavailable")
    from django.conf import settings  # noqa: PLC0415

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if engine != TESSERACT:
        if not ocr_queue_has_worker():
            raise DocumentRejected(
                f"No worker serves the '{OCR_QUEUE}' queue, so {engine} cannot run now; start the OCR worker "
                "(README, OCR engines).",
                code="ocr_engine_unavailable",
            )
        queue = OCR_QUEUE
    if document.mime_type in IMAGE_TYPES and not info.get("pages_without_text"):
        info["pages_without_text"] = list(range(1, (document.page_count or 1) + 1))
    info["ocr_requested_engine"] = engine
    with transaction.atomic():
        updated = (
            Document.objects.filter(pk=document.pk, deleted_at__isnull=True)
            .exclude(status=Document.Status.PROCESSING)
            .update(
                status=Document.Status.QUEUED,
                stage=Document.Stage.OCR,
                progress=20,
                error_code="",
                error_message="",
                attempts=0,
                ingest_info=info,
                updated_at=timezone.now(),
            )
        )
        if not updated:
            raise DocumentBusy("The document is being processed or deleted.")
        document.refresh_from_db()
        audit_log_write(
            action="document_reocr_requested", actor=actor, target=document, request=request, details={"engine": engine}
        )

        def send() -> None:
            from documents import tasks  # noqa: PLC0415

            try:
                tasks.process_ocr.apply_async(args=(document.pk,), kwargs={"engine": engine}, queue=queue)
            except OperationalError as exc:
                log.error("task_enqueue_failed", task="process_ocr", document_id=document.pk, error=str(exc))

        transaction.on_commit(send)
    log.info("document_reocr_requested", document_id=document.pk, engine=engine, queue=queue)
    return document


def document_delete(*, document: Document, actor: Any, request: HttpRequest | None = None) -> None:
    """Hide the document at once and queue the removal of its vectors, chunks and file (in that order).

    The documents it contains (e-mail attachments, archive members) are deleted with it.
    """
    for child in Document.objects.active().filter(parent_id=document.pk):
        document_delete(document=child, actor=actor, request=request)
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), stage=Document.Stage.DELETING, updated_at=timezone.now()
        )
        if not updated:
            return
        audit_log_write(
            action="document_delete_requested",
            actor=actor,
            target=document,
            request=request,
            details={"sha256": document.sha256, "filename": document.original_filename},
        )
        _enqueue_on_commit("delete_document_cascade", document.pk)
    log.info("document_delete_requested", document_id=document.pk)
