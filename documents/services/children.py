"""Child documents: an e-mail's attachments and a ZIP archive's members, each ingested as its own document.

Each member goes through :func:`documents.services.lifecycle.document_upload` (size, type by content, archive
bomb limits, duplicates), with the parent's uploader and access groups and ``parent`` set; a member that is refused
is listed on the parent with its code. Re-running the parent finds its children as duplicates of themselves
(idempotent). Archives inside archives are refused (``nested_archive``), and so are containers nested deeper than
``DOCINTEL_MAX_CONTAINER_DEPTH``.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath
from typing import Any

import structlog
from django.conf import settings

from docintel.context import ActorContext
from docintel.errors import DocIntelError, DuplicateDocument
from documents.models import Document
from documents.services.formats import Member
from documents.services.validation import CONTAINER_TYPES, ZIP, file_sniff

log = structlog.get_logger(__name__)


def _depth(document: Document) -> int:
    depth, current = 0, document
    while current.parent_id is not None and depth < 10:
        parent = Document.objects.filter(pk=current.parent_id).only("id", "parent_id").first()
        if parent is None:
            break
        depth, current = depth + 1, parent
    return depth


def _refused(member: Member, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"name": member.name[:300], "status": "refused", "code": code, "message": message[:300], **extra}


def children_create(*, document: Document, members: list[Member]) -> list[dict[str, Any]]:
    """Ingest ``members`` of ``document`` as child documents.

    Each member is sniffed and refused when it is a ZIP inside a ZIP or a container nested too deep; the others are
    uploaded with the parent's uploader and access groups. A member already ingested as this parent's child counts
    as ``exists`` (a re-run); one that duplicates another document is refused with the duplicate's id.

    Args:
        document: the e-mail or ZIP archive being ingested.
        members: its attachments or entries, as :mod:`documents.services.formats` extracted them.

    Returns:
        One entry per member: ``{"name", "status": "created"|"exists"|"refused", "document_id"?, "code"?}``.
    """
    from documents.services.lifecycle import document_upload  # lifecycle imports the task module

    groups = list(document.access_groups.all())
    depth = _depth(document) + 1
    results: list[dict[str, Any]] = []
    for member in members:
        if member.data is None:
            results.append(_refused(member, member.code or "malformed_file", member.message))
            continue
        filename = PurePosixPath(member.name.replace("\\", "/")).name or "attachment"
        try:
            sniffed = file_sniff(fileobj=io.BytesIO(member.data), filename=filename)
        except DocIntelError as exc:
            results.append(_refused(member, exc.code, exc.message))
            continue
        if sniffed.mime_type in CONTAINER_TYPES and (
            (sniffed.mime_type == ZIP and document.mime_type == ZIP) or depth >= settings.DOCINTEL_MAX_CONTAINER_DEPTH
        ):
            results.append(_refused(member, "nested_archive", "Archives inside archives are not unpacked."))
            continue
        try:
            child = document_upload(
                fileobj=io.BytesIO(member.data),
                filename=filename,
                size=len(member.data),
                ctx=ActorContext.for_user(document.uploaded_by),  # the container's uploader uploads its members
                access_groups=groups,
                parent=document,
                source=member.name,
            )
        except DuplicateDocument as exc:
            existing = (exc.detail or {}).get("document_id")
            own = existing is not None and Document.objects.filter(pk=existing, parent_id=document.pk).exists()
            if own:
                results.append({"name": member.name[:300], "status": "exists", "document_id": existing})
            else:
                results.append(_refused(member, exc.code, exc.message, document_id=existing))
            continue
        except DocIntelError as exc:
            results.append(_refused(member, exc.code, exc.message))
            continue
        results.append({"name": member.name[:300], "status": "created", "document_id": child.pk})
    log.info(
        "document_children_created",
        document_id=document.pk,
        created=sum(1 for r in results if r["status"] == "created"),
        refused=sum(1 for r in results if r["status"] == "refused"),
    )
    return results
