"""Quarantine of passages that read as instructions to a model: held out of retrieval until a librarian releases them.

Ingestion flags a chunk (``Chunk.injection_flag`` + ``injection_rule``) when its text, its heading path or its
document's title matches an injection rule (``guards.injection_rule_fired``). A flagged chunk is
*quarantined* until a librarian releases it from the admin's review list: every search excludes it inside the
vector store (payload ``quarantined``, see ``documents.services.vectorstore.retrievable_conditions``) and
hydration drops it again from the database (``Chunk.objects.retrievable()``), so it is never put in a prompt nor
cited. A librarian can also quarantine a passage by hand (the review queue's action).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import structlog
from django.db import transaction
from django.utils import timezone

from audit.services import audit_log_write
from docintel.context import ActorContext
from documents.models import Chunk, Document

if TYPE_CHECKING:
    from documents.services.chunking import ChunkDraft

log = structlog.get_logger(__name__)

MANUAL_RULE = "librarian"


def chunk_injection_rule(*, text: str, heading_path: Iterable[Any], title: str) -> str:
    """The rule a passage trips, looking at its text, its headings and its document's title (empty: clean).

    Headings and titles enter the prompt beside the text, so an instruction hidden in a heading is as dangerous as
    one in a paragraph.

    Args:
        text: the passage's text.
        heading_path: the headings above it, outermost first.
        title: its document's title.

    Returns:
        The rule's name (prefixed ``heading`` or ``title`` when it fired there, at most 200 characters), or ``""``.
    """
    from guards import injection_rule_fired  # loads the guard rules lazily

    for where, value in (("text", text), ("heading", " › ".join(str(h) for h in heading_path)), ("title", title)):
        if value and (rule := injection_rule_fired(value)):
            return rule if where == "text" else f"{where} {rule}"[:200]
    return ""


def chunks_flag(*, document: Document, drafts: list[ChunkDraft]) -> list[tuple[bool, str]]:
    """Scan each draft chunk of ``document`` (text, headings, title): ``(flagged, rule)`` per draft, in order.

    Args:
        document: the document being chunked (its title is scanned with every draft).
        drafts: its draft chunks.

    Returns:
        One ``(flagged, rule)`` pair per draft, in the drafts' order.
    """
    out = []
    for draft in drafts:
        rule = chunk_injection_rule(text=draft.text, heading_path=draft.heading_path, title=document.title)
        out.append((bool(rule), rule[:200]))
    return out


def _sync_on_commit(chunk_id: int) -> None:
    """Write the chunk's quarantine state onto its vector once this transaction commits (a broker outage is logged)."""
    from documents.tasks import sync_chunk_quarantine  # the task module imports the services

    sync_chunk_quarantine.delay_on_commit(chunk_id)


def chunk_quarantine(*, chunk: Chunk, ctx: ActorContext, rule: str) -> Chunk:
    """Hold a passage out of retrieval (a librarian's decision, e.g. from the review queue). Idempotent.

    Args:
        chunk: the passage.
        ctx: the librarian who holds it, and from where (the audit row).
        rule: why (shown in the review list); ``librarian`` when empty.

    Returns:
        The chunk, quarantined.
    """
    reason = (rule or MANUAL_RULE)[:200]
    with transaction.atomic():
        Chunk.objects.filter(pk=chunk.pk).update(
            injection_flag=True, injection_rule=reason, released_at=None, released_by=None
        )
        chunk.refresh_from_db()
        audit_log_write(
            action="chunk_quarantined",
            ctx=ctx,
            target=chunk,
            details={"document_id": chunk.document_id, "rule": reason},
        )
        _sync_on_commit(chunk.pk)
    log.info("chunk_quarantined", chunk_id=chunk.pk, document_id=chunk.document_id, rule=reason)
    return chunk


def chunk_release(*, chunk: Chunk, ctx: ActorContext) -> Chunk:
    """Let a flagged passage be retrieved again (a librarian read it and judged it plain content). Idempotent.

    The flag and its rule stay, so the review list keeps showing who released what and why it was held.

    Args:
        chunk: the passage.
        ctx: the librarian who releases it (recorded as ``released_by``), and from where (the audit row).

    Returns:
        The chunk, released.
    """
    with transaction.atomic():
        Chunk.objects.filter(pk=chunk.pk, released_at__isnull=True).update(
            released_at=timezone.now(), released_by=ctx.actor
        )
        chunk.refresh_from_db()
        audit_log_write(
            action="chunk_released",
            ctx=ctx,
            target=chunk,
            details={"document_id": chunk.document_id, "rule": chunk.injection_rule},
        )
        _sync_on_commit(chunk.pk)
    log.info("chunk_released", chunk_id=chunk.pk, document_id=chunk.document_id)
    return chunk


def chunk_quarantine_sync(*, chunk_id: int) -> bool:
    """Write a chunk's quarantine state from the database onto its vector (the task behind every change).

    Reads the state when it runs, so a retry or a later change always writes the latest decision.

    Returns:
        False when the chunk no longer exists (re-ingested or deleted: its new points carry their own state).

    Raises:
        VectorStoreUnavailable: transient; the task retries.
    """
    from documents.services.vectorstore import points_set_quarantine

    chunk = Chunk.objects.filter(pk=chunk_id).only("vector_id", "injection_flag", "released_at").first()
    if chunk is None:
        return False
    points_set_quarantine(point_ids=[str(chunk.vector_id)], quarantined=chunk.quarantined)
    log.info("chunk_quarantine_synced", chunk_id=chunk_id, quarantined=chunk.quarantined)
    return True
