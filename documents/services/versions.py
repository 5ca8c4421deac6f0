"""The switch between versions of a document: a new (or restored) version becomes current in one step.

A version that is not current is ingested beside the current one; its points are written ``staged`` and every
search leaves staged points out (``vectorstore.retrievable_conditions``). When they are all written:

1. ``staged`` is cleared on its points (one request). Both versions' points are now in the index, but retrieval
   hydrates hits through ``Document.objects.visible_to``, which lets only the current version through, so the old
   version is still the one answered from.
2. In one transaction the old version is superseded and the new one becomes current (and completed): from this
   commit on only the new version passes hydration. At every instant exactly one version is searchable.
3. The old version's points are deleted by a retried task (``delete_version_points``), under a lock of its row, so
   a restore that begins meanwhile waits for it.

A crash anywhere before step 2 leaves the old version current and searchable: the task is delivered again and the
step re-runs (its points are re-written staged), or the new version fails and may be re-ingested.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_log_write
from docintel.errors import VectorStoreUnavailable
from documents.events import publish_progress
from documents.models import Document

log = structlog.get_logger(__name__)

Status = Document.Status


def _publish(document_ids: list[int]) -> None:
    for row in Document.objects.filter(pk__in=document_ids).values("id", "status", "stage", "progress", "error_code"):
        publish_progress(
            {
                "id": row["id"],
                "status": row["status"],
                "stage": row["stage"],
                "stage_display": str(Document.Stage(row["stage"]).label),
                "progress": int(row["progress"]),
                "error_code": row["error_code"],
            }
        )


def _completed_fields() -> dict[str, Any]:
    now = timezone.now()
    return {
        "status": Status.COMPLETED,
        "stage": Document.Stage.DONE,
        "progress": 100,
        "attempts": 0,
        "processed_at": now,
        "updated_at": now,
    }


def version_complete(*, document_id: int) -> bool:
    """Finish the indexing of a version that is not current: the switch (a pending version) or the clean-up.

    Called by ``ingest.document_embed`` once every point of the version is written staged.

    Returns:
        ``True`` when the version became current.

    Raises:
        VectorStoreUnavailable: the store failed (transient; the embedding task retries, the old version stays).
    """
    from documents.services.vectorstore import points_set_access, points_set_staged

    document = Document.objects.filter(pk=document_id, deleted_at__isnull=True, status=Status.PROCESSING).first()
    if document is None or document.is_current:
        return False
    if document.superseded_at is not None:  # superseded while it was indexed: a superseded version keeps no points
        version_points_delete(document_id=document_id)
        Document.objects.filter(pk=document_id, status=Status.PROCESSING).update(**_completed_fields())
        _publish([document_id])
        log.info("document_version_indexed_superseded", document_id=document_id)
        return False
    root = document.family_id
    current = Document.objects.filter(Q(pk=root) | Q(version_of_id=root), deleted_at__isnull=True, is_current=True)
    current_doc = current.first()
    if current_doc is not None:  # the family's access groups (they may have changed while this version ingested)
        groups = sorted(current_doc.access_groups.values_list("id", flat=True))
        if groups != sorted(document.access_groups.values_list("id", flat=True)):
            document.access_groups.set(groups)
            points_set_access(document_id=document_id, access_group_ids=groups)
    points_set_staged(document_id=document_id, staged=False)  # (1) hydration still lets only the old one through
    with transaction.atomic():  # (2) the switch
        family = list(
            Document.objects.select_for_update()
            .filter(Q(pk=root) | Q(version_of_id=root), deleted_at__isnull=True)
            .order_by("pk")
        )
        me = next((d for d in family if d.pk == document_id), None)
        if me is None or me.is_current or me.superseded_at is not None or me.status != Status.PROCESSING:
            log.info("document_version_switch_skipped", document_id=document_id)
            transaction.on_commit(lambda: _restage(document_id))
            return False
        previous = [d for d in family if d.is_current]
        now = timezone.now()
        Document.objects.filter(pk__in=[d.pk for d in previous]).update(
            is_current=False, superseded_at=now, updated_at=now
        )
        Document.objects.filter(pk=document_id).update(is_current=True, superseded_at=None, **_completed_fields())
        audit_log_write(
            action="document_version_activated",
            target=me,
            details={
                "family_id": root,
                "version": me.version,
                "superseded": [{"document_id": d.pk, "version": d.version} for d in previous],
            },
        )
        from documents import tasks  # the task module imports the services

        for old in previous:  # (3) after commit; a broker outage leaves their points, never searched (hydration)
            tasks.delete_version_points.delay_on_commit(old.pk)
    _publish([document_id, *(d.pk for d in previous)])
    log.info(
        "document_version_activated",
        document_id=document_id,
        version=me.version,
        superseded=[d.pk for d in previous],
    )
    return True


def _restage(document_id: int) -> None:
    """A switch that could not happen (the version was deleted or superseded meanwhile): its points leave search."""
    from documents.services.vectorstore import points_set_staged

    try:
        points_set_staged(document_id=document_id, staged=True)
    except VectorStoreUnavailable as exc:  # never searched anyway: hydration drops a version that is not current
        log.warning("document_version_restage_failed", document_id=document_id, error=str(exc))


def version_points_delete(*, document_id: int) -> bool:
    """Remove every point of a version that is not current (superseded), under a lock of its row.

    A restore of the version takes the same lock, so it starts only after the points are gone; a version that is
    current again (or pending) by the time this runs keeps its points.

    Returns:
        ``True`` when the points were deleted, ``False`` when there was nothing to do.

    Raises:
        VectorStoreUnavailable: points are left (transient; the task retries).
    """
    from documents.services.vectorstore import points_delete_document

    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id, deleted_at__isnull=True).first()
        if document is None or document.is_current or document.superseded_at is None:
            log.info("version_points_delete_skipped", document_id=document_id)
            return False
        left = points_delete_document(document_id=document_id)
        if left:
            raise VectorStoreUnavailable(f"{left} points of version {document_id} are still in the vector store.")
    log.info("version_points_deleted", document_id=document_id)
    return True
