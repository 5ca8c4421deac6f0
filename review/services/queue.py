"""The review queue: a reader's thumbs-down opens an item; librarians resolve it, re-ingest, quarantine, or evaluate.

Rules of an item's life (one item per Response, since only the reader who asked may rate the answer):

- thumbs-down, no item yet: the item opens, with a copy of the question, the answer and its passages with scores;
- thumbs-down again (the reader re-sends it or edits the comment): the same item is updated (comment, count);
- thumbs-down on a closed item: it opens again when the reader says something new (another comment) or had
  withdrawn it; an identical re-send of a complaint a librarian already resolved leaves it resolved;
- thumbs-up on an open item: the reader changed their mind, the item is *withdrawn* (closed, kept, audited); a
  resolved item stays resolved. A later thumbs-down opens it again.

Every change is audited (:func:`audit.services.audit_log_write`) and recorded on the item's ``actions``.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from audit.services import audit_log_write
from chat.models import Feedback, Response
from docintel.context import ActorContext
from docintel.errors import Conflict, DocumentNotFound, InvalidInput, NotFound
from documents.models import Chunk, Document
from documents.services.lifecycle import document_reingest
from evaluation.models import EvaluationQuestion
from review.models import ReviewItem

log = structlog.get_logger(__name__)

PASSAGE_TEXT_CHARS = 2000
NOTE_MAX_CHARS = 4000


# --- Snapshots -----------------------------------------------------------------------------------------------------
def response_passages(*, response: Response) -> list[dict[str, Any]]:
    """The passages an answer was built from, best first, with their scores and whether (and as what) it cited them.

    Reads the chunks in one query; a chunk deleted since (its document re-ingested or deleted) keeps its ids and
    scores, and the title and location its citation recorded.
    """
    cited = {c["chunk_id"]: c for c in response.citations or [] if isinstance(c, dict) and "chunk_id" in c}
    rows = [r for r in response.retrieved or [] if isinstance(r, dict) and "chunk_id" in r]
    seen = {r["chunk_id"] for r in rows}
    rows += [{"chunk_id": cid, "document_id": c.get("document_id")} for cid, c in cited.items() if cid not in seen]
    chunks = Chunk.objects.select_related("document").in_bulk([r["chunk_id"] for r in rows])
    out: list[dict[str, Any]] = []
    for rank, row in enumerate(rows, 1):
        chunk = chunks.get(row["chunk_id"])
        citation = cited.get(row["chunk_id"]) or {}
        out.append(
            {
                "rank": rank,
                "chunk_id": row["chunk_id"],
                "document_id": row.get("document_id"),
                "document_title": chunk.document.title if chunk else citation.get("document_title", ""),
                "location": chunk.location if chunk else citation.get("location", ""),
                "text": chunk.text[:PASSAGE_TEXT_CHARS] if chunk else "",
                "score": row.get("score"),
                "dense_score": row.get("dense_score"),
                "keyword_score": row.get("keyword_score"),
                "cited": bool(citation),
                "number": citation.get("number"),
                "quote": citation.get("quote", ""),
            }
        )
    return out


def _action(actor: Any, action: str, **facts: Any) -> dict[str, Any]:
    return {"action": action, "at": timezone.now().isoformat(), "by": str(actor) if actor else "", **facts}


def _append(item: ReviewItem, entry: dict[str, Any]) -> None:
    item.actions = [*(item.actions or []), entry]


# --- Feedback in ---------------------------------------------------------------------------------------------------
def review_item_feedback(*, feedback: Feedback) -> ReviewItem | None:
    """Open, update, reopen or withdraw the review item of ``feedback``'s answer (see the module's rules).

    Called by :func:`chat.services.sessions.feedback_submit` inside its transaction, after the feedback row was
    written (and locked), so two submissions of the same reader cannot race into two items.

    Args:
        feedback: the reader's feedback as just stored.

    Returns:
        The item as it is now, or None (a thumbs-up on an answer without an item).
    """
    item = ReviewItem.objects.select_for_update().filter(response_id=feedback.response_id).first()
    reader = feedback.user
    ctx = ActorContext.for_user(reader)  # the reader's own feedback: the transport that took it has no request here
    if feedback.rating > 0:
        if item is None or item.status != ReviewItem.Status.OPEN:
            return item
        item.status = ReviewItem.Status.WITHDRAWN
        item.feedback = feedback
        _append(item, _action(reader, "withdrawn", note="the reader rated the answer helpful"))
        item.save(update_fields=["status", "feedback", "actions", "updated_at"])
        audit_log_write(action="review_item_withdrawn", ctx=ctx, target=item, details={"feedback_id": feedback.pk})
        log.info("review_item_withdrawn", review_item_id=item.pk, response_id=feedback.response_id)
        return item
    if item is None:
        response = Response.objects.select_related("query").get(pk=feedback.response_id)
        query = response.query
        item = ReviewItem.objects.create(
            response=response,
            feedback=feedback,
            question=query.standalone_text or query.text,
            answer=response.text,
            answer_status=response.status,
            comment=feedback.comment,
            passages=response_passages(response=response),
            actions=[_action(reader, "opened", comment=feedback.comment)],
        )
        audit_log_write(
            action="review_item_opened",
            ctx=ctx,
            target=item,
            details={"response_id": response.pk, "feedback_id": feedback.pk},
        )
        log.info("review_item_opened", review_item_id=item.pk, response_id=response.pk)
        return item
    new_comment = feedback.comment != item.comment
    reopen = item.status == ReviewItem.Status.WITHDRAWN or (item.status == ReviewItem.Status.RESOLVED and new_comment)
    item.feedback = feedback
    item.comment = feedback.comment
    item.times_reported += 1
    fields = ["feedback", "comment", "times_reported", "actions", "updated_at"]
    if reopen:
        item.status = ReviewItem.Status.OPEN
        item.resolved_at = None
        item.resolved_by = None
        fields += ["status", "resolved_at", "resolved_by"]
    what = "reopened" if reopen else "updated"
    _append(item, _action(reader, what, comment=feedback.comment))
    item.save(update_fields=fields)
    audit_log_write(
        action=f"review_item_{what}",
        ctx=ctx,
        target=item,
        details={"feedback_id": feedback.pk, "comment_changed": new_comment},
    )
    log.info("review_item_" + what, review_item_id=item.pk, response_id=feedback.response_id)
    return item


# --- Librarian actions ---------------------------------------------------------------------------------------------
def _locked(item: ReviewItem) -> ReviewItem:
    return ReviewItem.objects.select_for_update().get(pk=item.pk)


def _passage_ids(item: ReviewItem) -> tuple[set[int], set[int]]:
    """(chunk ids, document ids) the item's passages refer to."""
    passages = [p for p in item.passages or [] if isinstance(p, dict)]
    return (
        {int(p["chunk_id"]) for p in passages if p.get("chunk_id") is not None},
        {int(p["document_id"]) for p in passages if p.get("document_id") is not None},
    )


@transaction.atomic
def review_item_resolve(*, item: ReviewItem, ctx: ActorContext, note: str) -> ReviewItem:
    """Close an item with the librarian's note (what was wrong, what was done).

    Args:
        item: the review item.
        ctx: the librarian who resolves it (recorded as ``resolved_by``), and from where (the audit row).
        note: the resolution note (required, at most NOTE_MAX_CHARS characters).

    Returns:
        The item, resolved.

    Raises:
        InvalidInput: an empty or over-long note.
        Conflict: the item is already resolved.
    """
    note = (note or "").strip()
    if not note:
        raise InvalidInput("A resolution note is required.")
    if len(note) > NOTE_MAX_CHARS:
        raise InvalidInput(f"The note is longer than {NOTE_MAX_CHARS} characters.")
    item = _locked(item)
    if item.status == ReviewItem.Status.RESOLVED:
        raise Conflict("This review item is already resolved.")
    item.status = ReviewItem.Status.RESOLVED
    item.resolution_note = note
    item.resolved_by = ctx.actor
    item.resolved_at = timezone.now()
    _append(item, _action(ctx.actor, "resolved", note=note))
    item.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at", "actions", "updated_at"])
    audit_log_write(action="review_item_resolved", ctx=ctx, target=item, details={"note": note})
    log.info("review_item_resolved", review_item_id=item.pk)
    return item


@transaction.atomic
def review_item_reingest(*, item: ReviewItem, document_id: int, ctx: ActorContext) -> Document:
    """Queue one of the item's documents for ingestion again (:func:`documents.services.lifecycle.document_reingest`).

    Args:
        item: the review item.
        document_id: one of the documents its passages came from.
        ctx: the librarian, and from where (both audit rows).

    Returns:
        The document, queued.

    Raises:
        DocumentNotFound: the document is not one of the item's passages, or it was deleted.
        DocumentBusy: the document is being deleted.
    """
    _, document_ids = _passage_ids(item)
    document = Document.objects.filter(pk=document_id, deleted_at__isnull=True).first()
    if document_id not in document_ids or document is None:
        raise DocumentNotFound("This document is not one of the answer's passages, or it was deleted.")
    item = _locked(item)
    document = document_reingest(document=document, ctx=ctx)
    _append(item, _action(ctx.actor, "document_reingested", document_id=document.pk, document_title=document.title))
    item.save(update_fields=["actions", "updated_at"])
    audit_log_write(
        action="review_document_reingested",
        ctx=ctx,
        target=item,
        details={"document_id": document.pk},
    )
    log.info("review_document_reingested", review_item_id=item.pk, document_id=document.pk)
    return document


@transaction.atomic
def review_item_quarantine(*, item: ReviewItem, chunk_id: int, ctx: ActorContext, reason: str = "") -> Chunk:
    """Hold one of the item's passages out of retrieval (:func:`documents.services.quarantine.chunk_quarantine`).

    Args:
        item: the review item.
        chunk_id: one of its passages.
        ctx: the librarian, and from where (both audit rows).
        reason: why, shown in the review list with the item's number (at most 180 characters).

    Returns:
        The chunk, quarantined.

    Raises:
        NotFound: the passage is not one of the item's, or it no longer exists (its document was re-ingested).
        InvalidInput: an over-long reason.
    """
    from documents.services.quarantine import chunk_quarantine  # noqa: PLC0415 - documents' own service, used here only

    reason = (reason or "").strip()
    if len(reason) > 180:
        raise InvalidInput("The reason is longer than 180 characters.")
    chunk_ids, _ = _passage_ids(item)
    chunk = Chunk.objects.filter(pk=chunk_id).first()
    if chunk_id not in chunk_ids or chunk is None:
        raise NotFound("This passage is not one of the answer's, or it no longer exists (re-ingested or deleted).")
    item = _locked(item)
    rule = f"review #{item.pk}: {reason}" if reason else f"review #{item.pk}"
    chunk = chunk_quarantine(chunk=chunk, ctx=ctx, rule=rule)
    _append(
        item, _action(ctx.actor, "passage_quarantined", chunk_id=chunk.pk, document_id=chunk.document_id, rule=rule)
    )
    item.save(update_fields=["actions", "updated_at"])
    audit_log_write(
        action="review_passage_quarantined",
        ctx=ctx,
        target=item,
        details={"chunk_id": chunk.pk, "document_id": chunk.document_id, "rule": rule},
    )
    log.info("review_passage_quarantined", review_item_id=item.pk, chunk_id=chunk.pk)
    return chunk


@transaction.atomic
def review_item_to_evaluation(
    *,
    item: ReviewItem,
    expected_answer: str,
    expect_no_answer: bool = False,
    ctx: ActorContext,
) -> EvaluationQuestion:
    """Turn the item's question into an evaluation question every run asks again, with the expected answer.

    One evaluation question per feedback: one made earlier (by this action or the feedback list's action) gets the
    expected answer instead of a second one being created. The question is asked as the reader who asked it.

    Args:
        item: the review item.
        expected_answer: what a good answer says (may be empty with ``expect_no_answer``).
        expect_no_answer: the documents do not say: the right answer is "no answer".
        ctx: the librarian (recorded as the question's ``created_by``), and from where (the audit row).

    Returns:
        The evaluation question, created or updated.

    Raises:
        InvalidInput: no expected answer and not "the documents do not say", or an over-long answer.
    """
    expected = (expected_answer or "").strip()
    if not expected and not expect_no_answer:
        raise InvalidInput("Give the expected answer, or mark that the documents do not say.")
    if len(expected) > NOTE_MAX_CHARS:
        raise InvalidInput(f"The expected answer is longer than {NOTE_MAX_CHARS} characters.")
    item = _locked(item)
    response = Response.objects.select_related("query").get(pk=item.response_id)
    question = item.evaluation_question
    if question is None and item.feedback_id is not None:
        question = EvaluationQuestion.objects.filter(source_feedback_id=item.feedback_id).first()
    created = question is None
    if question is None:
        question = EvaluationQuestion(
            text=item.question,
            language=response.query.language,
            ask_as_id=response.query.user_id,
            source_feedback_id=item.feedback_id,
            source_response=response,
            created_by=ctx.actor,
            notes=f"From review item #{item.pk}: {item.comment}".strip(": ")[:NOTE_MAX_CHARS],
        )
    question.expected_answer = expected
    question.expect_no_answer = expect_no_answer
    question.active = True
    question.save()
    item.evaluation_question = question
    _append(item, _action(ctx.actor, "evaluation_question", evaluation_question_id=question.pk, created=created))
    item.save(update_fields=["evaluation_question", "actions", "updated_at"])
    audit_log_write(
        action="review_evaluation_question_created" if created else "review_evaluation_question_updated",
        ctx=ctx,
        target=question,
        details={"review_item_id": item.pk, "response_id": item.response_id, "expect_no_answer": expect_no_answer},
    )
    log.info("review_evaluation_question", review_item_id=item.pk, evaluation_question_id=question.pk, created=created)
    return question


def review_items_open_count() -> int:
    """Items waiting for a librarian (the admin index shows it)."""
    return ReviewItem.objects.open().count()
