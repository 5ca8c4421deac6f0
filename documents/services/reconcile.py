"""Reconciliation of the vector store with the database: delete the points nothing will ever clean up.

Two crashes leave points behind. A worker that dies between a version switch (``versions.version_complete``) and
enqueueing ``delete_version_points`` leaves the superseded version's points; a crash between marking a document
deleted and its ``delete_document_cascade`` task (or a row removed another way) leaves points of a document that is
gone. Hydration never answers from them, but they cost space and every search scores them.

:func:`vectorstore_reconcile` scrolls the collection's points in pages (payload ``document_id`` and ``chunk_id``
only), reads the state of their documents *after* each page and sorts every document into one of:

``missing``
    no row: a row is committed before any of its points is written, so the points are orphans. Deleted.
``deleting``
    marked for deletion (``deleted_at``); the cascade deletes points first, so deleting them is what it would do.
``superseded``
    an old version: deleted through ``versions.version_points_delete``, the retried task's own service, under the
    row lock a restore also takes (a version restored meanwhile keeps its points).
``stale``
    the current version, not being ingested, with points whose id is no vector id of its chunks. Deleted by id *and*
    the ``chunk_id`` the page showed, so a point a re-ingest rewrote meanwhile (same deterministic id, new chunk) is
    never matched.

Kept untouched: a document being ingested (queued or processing: its chunks and points are changing) and a version
that is not current yet (``staged``, pending its switch, or failed before it). Running it twice deletes nothing
the second time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from django.utils import timezone

from documents.models import Chunk, Document
from documents.services import vectorstore
from documents.services.vectorstore import store_errors_as_transient  # the store's errors, as every service maps them
from documents.services.versions import version_points_delete

log = structlog.get_logger(__name__)

Status = Document.Status

PAGE_SIZE = 512
DELETED_KINDS = ("missing", "deleting", "superseded", "stale")
KEPT_KINDS = ("ingesting", "pending")


@dataclass
class ReconcileReport:
    """What a reconciliation found: points and documents per kind, and how many points it deleted.

    Attributes:
        scanned: points read from the store.
        points: points per kind (``missing``, ``deleting``, ``superseded``, ``stale``, ``ingesting``, ``pending``,
            ``ok``).
        documents: the document ids per kind, sorted when the run ends.
        deleted: points actually deleted (0 in a dry run).
        keys_repaired: points whose ``search_keys`` did not match their payload and were rewritten (0 in a dry run).
        dry_run: whether anything could be deleted.
    """

    scanned: int = 0
    points: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    documents: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    deleted: int = 0
    keys_repaired: int = 0
    dry_run: bool = False

    @property
    def orphans(self) -> int:
        """The points found that nothing else will delete (every deleted kind together)."""
        return sum(self.points.get(kind, 0) for kind in DELETED_KINDS)

    def as_log(self) -> dict[str, Any]:
        """The counts as structlog fields (no ids, which may be many): ``points_<kind>`` and ``documents_<kind>``."""
        fields: dict[str, Any] = {
            "scanned": self.scanned, "orphans": self.orphans, "deleted": self.deleted,
            "keys_repaired": self.keys_repaired,
        }  # fmt: skip
        for kind in (*DELETED_KINDS, *KEPT_KINDS, "ok"):
            fields[f"points_{kind}"] = self.points.get(kind, 0)
            if kind != "ok":
                fields[f"documents_{kind}"] = len(self.documents.get(kind, []))
        fields["dry_run"] = self.dry_run
        return fields


@dataclass
class _Stale:
    """The stale points of one current document: their ids and the chunk ids their payload carried."""

    point_ids: list[str] = field(default_factory=list)
    chunk_ids: set[int] = field(default_factory=set)


def _classify(document_ids: set[int]) -> tuple[dict[int, str], dict[int, set[str]]]:
    """The kind of each document (``ok`` for a current one) and the vector ids of the current ones' chunks.

    Read after the page of points was scrolled, so any row a point needs is already committed.
    """
    rows = Document.objects.filter(pk__in=document_ids).values(
        "pk", "deleted_at", "is_current", "superseded_at", "status"
    )
    kinds: dict[int, str] = dict.fromkeys(document_ids, "missing")
    for row in rows:
        if row["deleted_at"] is not None:
            kind = "deleting"
        elif row["status"] in (Status.QUEUED, Status.PROCESSING):
            kind = "ingesting"
        elif not row["is_current"]:
            kind = "superseded" if row["superseded_at"] is not None else "pending"
        else:
            kind = "ok"
        kinds[row["pk"]] = kind
    current = [pk for pk, kind in kinds.items() if kind == "ok"]
    vector_ids: dict[int, set[str]] = defaultdict(set)
    for document_id, vector_id in Chunk.objects.filter(document_id__in=current).values_list("document_id", "vector_id"):
        vector_ids[document_id].add(str(vector_id))
    return kinds, vector_ids


def _scan(client: Any, name: str, report: ReconcileReport, page_size: int) -> tuple[set[int], dict[int, _Stale]]:
    """Scroll every point; return the documents whose points all go and the stale points of current documents."""
    whole: set[int] = set()
    stale: dict[int, _Stale] = defaultdict(_Stale)
    seen: dict[str, set[int]] = defaultdict(set)
    offset: Any = None
    while True:
        with store_errors_as_transient():
            records, offset = client.scroll(
                name,
                limit=page_size,
                offset=offset,
                with_payload=["document_id", "chunk_id"],
                with_vectors=False,
            )
        page: list[tuple[str, int, Any]] = []
        for record in records:
            payload = record.payload or {}
            document_id = payload.get("document_id")
            if not isinstance(document_id, int):
                report.points["unknown"] += 1  # not a chunk point of this project: never touched
                continue
            page.append((str(record.id), document_id, payload.get("chunk_id")))
        report.scanned += len(records)
        kinds, vector_ids = _classify({document_id for _, document_id, _ in page})
        for point_id, document_id, chunk_id in page:
            kind = kinds[document_id]
            if kind == "ok" and point_id not in vector_ids.get(document_id, set()):
                kind = "stale"
                if isinstance(chunk_id, int):  # compared on delete: a point rewritten meanwhile has another
                    stale[document_id].point_ids.append(point_id)
                    stale[document_id].chunk_ids.add(chunk_id)
                else:
                    kind = "unknown"
            report.points[kind] += 1
            seen[kind].add(document_id)
            if kind in ("missing", "deleting", "superseded"):
                whole.add(document_id)
        if offset is None:
            break
    for kind, ids in seen.items():
        if kind != "ok":
            report.documents[kind] = sorted(ids)
    return whole, stale


def _delete_filter(client: Any, name: str, flt: Any) -> int:
    """Delete the points matching ``flt`` and return how many matched (counted just before)."""
    from qdrant_client import models

    with store_errors_as_transient():
        matched = int(client.count(name, count_filter=flt, exact=True).count)
        if matched:
            client.delete(collection_name=name, points_selector=models.FilterSelector(filter=flt), wait=True)
    return matched


def _delete(client: Any, name: str, *, whole: set[int], stale: dict[int, _Stale], report: ReconcileReport) -> int:
    """Delete the orphans found; every deletion re-checks its condition at the moment it runs."""
    from qdrant_client import models

    deleted = 0
    superseded = set(report.documents.get("superseded", []))
    for document_id in sorted(whole):
        if document_id in superseded:  # the row lock and the state check of the retried task itself
            before = vectorstore.points_count_document(document_id=document_id)
            if version_points_delete(document_id=document_id):
                deleted += before
            continue
        row = Document.objects.filter(pk=document_id).values("deleted_at").first()
        if row is not None and row["deleted_at"] is None:  # a row that was missing cannot come back: never here
            log.warning("vectorstore_reconcile_skipped", document_id=document_id, reason="document_restored")
            continue
        deleted += _delete_filter(client, name, vectorstore.document_filter(document_id))
    for document_id, points in sorted(stale.items()):
        flt = models.Filter(
            must=[
                models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id)),
                models.HasIdCondition(has_id=list(points.point_ids)),
                models.FieldCondition(key="chunk_id", match=models.MatchAny(any=sorted(points.chunk_ids))),
            ]
        )
        deleted += _delete_filter(client, name, flt)
    return deleted


def vectorstore_reconcile(*, dry_run: bool = False, page_size: int = PAGE_SIZE) -> ReconcileReport:
    """Delete the points of the current collection that no document needs (unless ``dry_run``) and repair search keys.

    Safe while ingestion runs: documents being ingested and versions not yet current keep every point, superseded
    versions go through the versions service's lock, and stale points are deleted only if unchanged since read.

    Args:
        dry_run: only count; nothing is deleted.
        page_size: points read per scroll request.

    Returns:
        The counts per kind, the document ids and the number of points deleted.

    Raises:
        VectorStoreUnavailable: the store failed (transient; a re-run starts over and finds what is left).
    """
    report = ReconcileReport(dry_run=dry_run)
    client = vectorstore.qdrant_client()
    name = vectorstore.collection_name()
    with store_errors_as_transient():
        exists = client.collection_exists(name)
    if exists:
        if not dry_run:  # an older collection gets its new payload indexes (and search keys) first
            with store_errors_as_transient():
                vectorstore.payload_indexes_ensure(client=client, name=name)
        whole, stale = _scan(client, name, report, page_size)
        if not dry_run and (whole or stale):
            report.deleted = _delete(client, name, whole=whole, stale=stale, report=report)
        if not dry_run:  # keys left behind by a crash between a flag's write and its keys' refresh
            with store_errors_as_transient():
                report.keys_repaired = vectorstore.search_keys_refresh(client=client, name=name)
    report.points = dict(report.points)
    report.documents = dict(report.documents)
    log.info("vectorstore_reconciled", collection=name, **report.as_log())
    return report


DELETION_RESUME_AFTER = timedelta(minutes=10)


def deletions_resume(*, older_than: timedelta = DELETION_RESUME_AFTER) -> list[int]:
    """Enqueue the cascade again for documents marked for deletion long ago whose rows are still there.

    A worker that died between marking a document and its cascade (or a cascade that gave up) leaves a hidden row,
    maybe with points; the cascade is idempotent, so sending it again finishes the deletion. Rows marked recently are
    left to the cascade already queued for them.

    Args:
        older_than: how long ago the document must have been marked.

    Returns:
        The ids of the documents whose cascade was enqueued.
    """
    from documents import tasks

    ids = list(
        Document.objects.filter(deleted_at__lt=timezone.now() - older_than).order_by("pk").values_list("pk", flat=True)
    )
    for document_id in ids:
        tasks.delete_document_cascade.delay(document_id)
    if ids:
        log.info("document_deletions_resumed", documents=len(ids))
    return ids
