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
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_log_write
from docintel.context import ActorContext
from docintel.errors import DocumentBusy, DocumentNotFound, DocumentRejected, DuplicateDocument, VersionConflict
from documents.models import Document
from documents.services.validation import (
    ARCHIVE_TYPES,
    CONTAINER_TYPES,
    IMAGE_TYPES,
    Sniffed,
    file_check_size,
    file_sniff,
    ooxml_check_sizes,
)

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


def _tasks() -> Any:
    """The ingestion task module, imported when first needed (it imports the services)."""
    from documents import tasks  # documents.tasks imports this module

    return tasks


def document_access_set(*, document: Document, groups: Iterable[Group], ctx: ActorContext) -> list[int]:
    """Give a document, and every version of it, these reader groups; audit it and sync the vectors after commit.

    A family of versions has one set of readers, so the other versions get the same groups. The vectors carry the
    groups in their permission payload; ``sync_document_access`` (a task retried with backoff) rewrites them once
    this transaction commits. Setting the groups a document already has changes nothing and writes nothing.

    Args:
        document: any version of the document.
        groups: the groups whose members may read it (none: librarians only).
        ctx: the librarian who changed them, and from where (the audit row).

    Returns:
        The ids of the documents whose vectors will be synced (empty when nothing changed).
    """
    groups = list(groups)
    after = sorted(g.name for g in groups)
    with transaction.atomic():
        before = sorted(document.access_groups.values_list("name", flat=True))
        if after == before:
            return []
        document.access_groups.set(groups)
        audit_log_write(
            action="document_access_changed",
            ctx=ctx,
            target=document,
            details={"before": before, "after": after},
        )
        changed = [document.pk]
        for version in Document.objects.family_of(document).exclude(pk=document.pk):
            version.access_groups.set(groups)
            changed.append(version.pk)
        for document_id in changed:
            _tasks().sync_document_access.delay_on_commit(document_id)
    log.info("document_access_changed", document_id=document.pk, versions=len(changed), groups=after)
    return changed


def _file_check(*, fileobj: IO[bytes], filename: str, size: int) -> tuple[str, Sniffed, str]:
    """The upload checks (size, type from the bytes, archive limits) and the duplicate check.

    Returns:
        The cleaned file name, the sniffed type and the SHA-256 of the bytes.

    Raises:
        FileTooLarge, UnsupportedFileType, DocumentRejected: the file is refused.
        DuplicateDocument: the same bytes are in the library, as a document or as any version of one (current, old
            or pending); ``detail`` names it (``document_id``, ``title``, ``version``, ``current_document_id``).
    """
    original = _clean_filename(filename)
    file_check_size(size=size)
    sniffed = file_sniff(fileobj=fileobj, filename=original)
    if sniffed.mime_type in ARCHIVE_TYPES:
        ooxml_check_sizes(fileobj=fileobj)
    sha256 = _sha256(fileobj)
    existing = (
        Document.objects.not_deleted()
        .filter(sha256=sha256)
        .only("id", "title", "version", "version_of_id", "is_current")
        .first()
    )
    if existing is not None:
        current_id = (
            existing.pk
            if existing.is_current
            else Document.objects.family_of(existing).filter(is_current=True).values_list("pk", flat=True).first()
        )
        where = f"“{existing.title}”" if existing.is_current else f"version {existing.version} of “{existing.title}”"
        raise DuplicateDocument(
            f"This file is already in the library as {where}.",
            detail={
                "document_id": existing.pk,
                "title": existing.title,
                "version": existing.version,
                "current_document_id": current_id,
            },
        )
    return original, sniffed, sha256


def document_upload(
    *,
    fileobj: IO[bytes],
    filename: str,
    size: int,
    ctx: ActorContext,
    title: str = "",
    language: str = "",
    access_groups: Iterable[Group] = (),
    parent: Document | None = None,
    source: str = "",
) -> Document:
    """Validate a file, store it under a server-generated name, create a queued Document and enqueue ingestion.

    Args:
        fileobj: the file's bytes (seekable).
        filename: the client's file name; kept as metadata only.
        size: the file's size in bytes.
        ctx: who uploads (the librarian, recorded as ``uploaded_by``; the system for an import) and from where.
        title: the title; defaults to the file name without its extension.
        language: a language hint (``el``, ``en``); detected during ingestion when empty.
        access_groups: groups whose members may read the document (none: librarians only).
        parent: the e-mail or archive this file came out of (child documents, see ``documents.services.children``).
        source: the file's path inside ``parent`` (kept in ``ingest_info["source"]``).

    Returns:
        The new Document, status ``queued``.

    Raises:
        FileTooLarge, UnsupportedFileType, DocumentRejected: the file is refused; nothing is stored.
        DuplicateDocument: the same bytes are already in the library (``detail.document_id`` names it).
    """
    original, sniffed, sha256 = _file_check(fileobj=fileobj, filename=filename, size=size)
    document = Document(
        title=(title or PurePath(original).stem or original)[:300],
        original_filename=original,
        sha256=sha256,
        mime_type=sniffed.mime_type,
        size_bytes=size,
        language=language,
        uploaded_by=ctx.actor,
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
                ctx=ctx,
                target=document,
                details={
                    "filename": original,
                    "sha256": sha256,
                    "mime_type": sniffed.mime_type,
                    "size_bytes": size,
                    "access_groups": [g.name for g in groups],
                    **({"parent_id": parent.pk, "source": source[:500]} if parent is not None else {}),
                },
            )
            _tasks().ingest_document.delay_on_commit(document.pk)
    except IntegrityError as exc:
        document.file.delete(save=False)
        raise DuplicateDocument("This file was uploaded at the same moment by someone else.") from exc
    except BaseException:
        document.file.delete(save=False)
        raise
    log.info("document_uploaded", document_id=document.pk, mime_type=sniffed.mime_type, size_bytes=size)
    return document


def document_reingest(*, document: Document, ctx: ActorContext) -> Document:
    """Queue a document for ingestion again; its chunks and vectors are replaced, never appended.

    Args:
        document: the document (its current version).
        ctx: the librarian who asks, and from where (the audit row).

    Returns:
        The document, queued.

    Raises:
        DocumentBusy: the document is being deleted.
        VersionConflict: the document is a superseded version (restore it instead).
    """
    _refuse_superseded(document)
    with transaction.atomic():
        updated = (
            Document.objects.filter(pk=document.pk, deleted_at__isnull=True, superseded_at__isnull=True)
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
        audit_log_write(action="document_reingest_requested", ctx=ctx, target=document)
        _tasks().ingest_document.delay_on_commit(document.pk)
    log.info("document_reingest_requested", document_id=document.pk)
    return document


def document_reocr(*, document: Document, engine: str, ctx: ActorContext) -> Document:
    """Run OCR again on a scan or image with ``engine``; its chunks and vectors are replaced.

    ``tesseract`` runs on the default queue; ``easyocr`` and ``surya`` need a worker on the ``ocr`` queue (their
    environment), which is checked first, so the librarian hears at once when none is running.

    Args:
        document: the scan or image (its current version).
        engine: ``tesseract``, ``easyocr`` or ``surya``.
        ctx: the librarian who asks, and from where (the audit row).

    Returns:
        The document, queued at the OCR stage.

    Raises:
        DocumentRejected: ``not_a_scan`` (the document has a text layer: re-ingest it), ``ocr_engine_unavailable``
            (unknown engine, or no worker serves it).
        DocumentBusy: the document is being deleted or is being processed.
        VersionConflict: the document is a superseded version (restore it instead).
    """
    _refuse_superseded(document)
    from documents.services.ocr import EXTRA_ENGINES, OCR_QUEUE, TESSERACT, ocr_queue_has_worker

    info = dict(document.ingest_info or {})
    if document.mime_type not in IMAGE_TYPES and not info.get("pages_without_text"):
        raise DocumentRejected(
            "This document has a text layer and was not OCR'd; re-ingest it instead.", code="not_a_scan"
        )
    if engine != TESSERACT and engine not in EXTRA_ENGINES:
        raise DocumentRejected(f"Unknown OCR engine {engine!r}.", code="ocr_engine_unavailable")
    from django.conf import settings

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
            Document.objects.filter(pk=document.pk, deleted_at__isnull=True, superseded_at__isnull=True)
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
        audit_log_write(action="document_reocr_requested", ctx=ctx, target=document, details={"engine": engine})
        _tasks().process_ocr.apply_async_on_commit(args=(document.pk,), kwargs={"engine": engine}, queue=queue)
    log.info("document_reocr_requested", document_id=document.pk, engine=engine, queue=queue)
    return document


def _refuse_superseded(document: Document) -> None:
    if document.superseded_at is not None and not document.is_current:
        raise VersionConflict(
            f"Version {document.version} of this document is superseded; restore it to make it current again.",
            detail={"document_id": document.pk, "version": document.version},
        )


def document_delete(*, document: Document, ctx: ActorContext) -> None:
    """Hide the document at once and queue the removal of its vectors, chunks and file (in that order).

    Every version of the document is deleted with it (any version given deletes the family), and so are the
    documents each version contains (e-mail attachments, archive members). Deleting a document already being
    deleted does nothing.

    Args:
        document: any version of the document.
        ctx: who deletes it, and from where (one audit row per document hidden).
    """
    versions = list(Document.objects.family_of(document)) if document.deleted_at is None else []
    for version in versions:
        if version.pk != document.pk:
            _document_delete_one(document=version, ctx=ctx)
    _document_delete_one(document=document, ctx=ctx)


def _document_delete_one(*, document: Document, ctx: ActorContext) -> None:
    for child in Document.objects.not_deleted().filter(parent_id=document.pk):
        document_delete(document=child, ctx=ctx)
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), stage=Document.Stage.DELETING, updated_at=timezone.now()
        )
        if not updated:
            return
        audit_log_write(
            action="document_delete_requested",
            ctx=ctx,
            target=document,
            details={"sha256": document.sha256, "filename": document.original_filename},
        )
        _tasks().delete_document_cascade.delay_on_commit(document.pk)
    log.info("document_delete_requested", document_id=document.pk)


# --- versions ----------------------------------------------------------------------------------------------------
def _family_locked(document: Document) -> list[Document]:
    """Lock every version of ``document``'s family (in id order: upload, restore and the switch never deadlock)."""
    root = document.family_id
    return list(
        Document.objects.select_for_update()
        .filter(Q(pk=root) | Q(version_of_id=root), deleted_at__isnull=True)
        .order_by("pk")
    )


def _pending_make_way(*, family: list[Document], keep: Document | None = None) -> None:
    """Make room for a new pending version: a failed one waiting is set aside (superseded, its points removed).

    Raises:
        DocumentBusy: another version is still being ingested (queued or processing).
    """
    now = timezone.now()
    for other in family:
        if other.is_current or other.superseded_at is not None or (keep is not None and other.pk == keep.pk):
            continue
        if other.status != Document.Status.FAILED:
            raise DocumentBusy(
                f"Version {other.version} of this document is still being ingested; wait until it has finished.",
                detail={"document_id": other.pk, "version": other.version},
            )
        Document.objects.filter(pk=other.pk).update(superseded_at=now, updated_at=now)
        _tasks().delete_version_points.delay_on_commit(other.pk)


def document_version_upload(
    *,
    document: Document,
    fileobj: IO[bytes],
    filename: str,
    size: int,
    ctx: ActorContext,
    title: str = "",
    language: str = "",
) -> Document:
    """Upload a new version of ``document``: it ingests beside the current version and replaces it when indexed.

    The new version gets the family's access groups and the next version number, is checked like any upload (an
    identical file, to any document or version, is refused), and stays out of search until its points are written;
    then ``documents.services.versions.version_complete`` makes it current in one step.

    Args:
        document: any version of the document (its family's current version gives the access groups).
        fileobj: the new file's bytes (seekable).
        filename: the client's file name; kept as metadata only.
        size: the file's size in bytes.
        ctx: who uploads (recorded as the version's ``uploaded_by``) and from where, for the audit row.
        title: the new version's title; defaults to the current version's title.
        language: a language hint (``el``, ``en``); detected during ingestion when empty.

    Returns:
        The new version, status ``queued``, not current.

    Raises:
        DocumentNotFound: the document is being deleted.
        FileTooLarge, UnsupportedFileType, DocumentRejected: the file is refused; nothing is stored.
        DuplicateDocument: the same bytes are already in the library (``detail.document_id`` names it).
        DocumentBusy: another new version of this document is still being ingested.
    """
    if document.deleted_at is not None:
        raise DocumentNotFound
    original, sniffed, sha256 = _file_check(fileobj=fileobj, filename=filename, size=size)
    if sniffed.mime_type in CONTAINER_TYPES or document.mime_type in CONTAINER_TYPES:
        raise DocumentRejected(
            "E-mails and ZIP archives have no versions: each attachment or member is a document of its own; "
            "upload the changed file as a new version of that document.",
            code="version_unsupported_type",
        )
    fileobj.seek(0)
    new = Document(
        original_filename=original,
        sha256=sha256,
        mime_type=sniffed.mime_type,
        size_bytes=size,
        language=language,
        uploaded_by=ctx.actor,
        version_of_id=document.family_id,
        is_current=False,
    )
    new.file.save(f"upload{sniffed.extension}", File(fileobj), save=False)
    try:
        with transaction.atomic():
            family = _family_locked(document)
            current = next((d for d in family if d.is_current), None)
            if current is None:
                raise DocumentNotFound
            _pending_make_way(family=family)
            new.version = max(d.version for d in family) + 1
            new.title = (title or current.title)[:300]
            new.save()
            groups = list(current.access_groups.all())
            new.access_groups.set(groups)
            audit_log_write(
                action="document_version_uploaded",
                ctx=ctx,
                target=new,
                details={
                    "family_id": new.family_id,
                    "version": new.version,
                    "current_document_id": current.pk,
                    "current_version": current.version,
                    "filename": original,
                    "sha256": sha256,
                    "mime_type": sniffed.mime_type,
                    "size_bytes": size,
                    "access_groups": [g.name for g in groups],
                },
            )
            _tasks().ingest_document.delay_on_commit(new.pk)
    except IntegrityError as exc:
        new.file.delete(save=False)
        raise DuplicateDocument("This file or a version of this document was uploaded at the same moment.") from exc
    except BaseException:
        new.file.delete(save=False)
        raise
    log.info("document_version_uploaded", document_id=new.pk, family_id=new.family_id, version=new.version)
    return new


def document_version_restore(*, document: Document, ctx: ActorContext) -> Document:
    """Make an old version current again, by the same switch as a new version.

    Its chunks are still in the database: they are embedded and indexed again (staged, out of search), then the
    version becomes current and the version it replaces loses its points. A version without chunks (it failed
    before chunking) is ingested again from its file.

    Args:
        document: the version to restore (not the current one).
        ctx: the librarian who restores it, and from where (the audit row).

    Returns:
        The version, queued, not current until it is indexed.

    Raises:
        DocumentNotFound: the document is being deleted.
        VersionConflict: the version is already current.
        DocumentBusy: this or another version of the document is being ingested.
    """
    if document.deleted_at is not None:
        raise DocumentNotFound
    has_chunks = document.chunks.exists()
    with transaction.atomic():
        family = _family_locked(document)
        me = next((d for d in family if d.pk == document.pk), None)
        if me is None:
            raise DocumentNotFound
        if me.is_current:
            raise VersionConflict(
                f"Version {me.version} is already the current version.",
                detail={"document_id": me.pk, "version": me.version},
            )
        if me.status in (Document.Status.QUEUED, Document.Status.PROCESSING):
            raise DocumentBusy(
                f"Version {me.version} is being ingested; wait until it has finished.",
                detail={"document_id": me.pk, "version": me.version},
            )
        _pending_make_way(family=family, keep=me)
        current = next(d for d in family if d.is_current)
        stage, progress, task = (
            (Document.Stage.EMBEDDING, 55, "generate_embeddings")
            if has_chunks
            else (Document.Stage.UPLOADED, 0, "ingest_document")
        )
        Document.objects.filter(pk=me.pk).update(
            superseded_at=None,
            status=Document.Status.QUEUED,
            stage=stage,
            progress=progress,
            error_code="",
            error_message="",
            attempts=0,
            updated_at=timezone.now(),
        )
        me.refresh_from_db()
        audit_log_write(
            action="document_version_restore_requested",
            ctx=ctx,
            target=me,
            details={
                "family_id": me.family_id,
                "version": me.version,
                "current_document_id": current.pk,
                "current_version": current.version,
                "reembed": has_chunks,
            },
        )
        getattr(_tasks(), task).delay_on_commit(me.pk)
    log.info("document_version_restore_requested", document_id=me.pk, version=me.version, task=task)
    return me
