"""Replay a stored answer against the current index, for a librarian, and say what changed.

The stored Query's (standalone) question is asked again for the user who asked it, in their current access scope,
through the real answering path (:func:`chat.services.answering.answer_replay`: guards, retrieval, budget,
generation, checks) with the settings in force now. Nothing reader-visible is written: the new answer, its
citations, passages with scores, model, decision and timings are kept on a :class:`review.models.Replay` only, with
``changes``, the differences from the stored answer and their causes (a passage gone because its document was
deleted, superseded by a new version or re-ingested, a passage quarantined, a different model, a different answer).

Runs in a Celery task (:func:`review.tasks.replay_run`); a retrieval dependency that is down is retried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import audit_log_write
from chat.models import Response
from docintel.context import ActorContext
from docintel.errors import DocIntelError, TransientError
from documents.models import Chunk, Document
from review.models import Replay
from review.services.queue import response_passages

log = structlog.get_logger(__name__)

REPLAY_SOFT_TIME_LIMIT = 300
REPLAY_TIME_LIMIT = 330


def _settings_now() -> dict[str, Any]:
    """The answering settings a replay runs with (recorded beside it)."""
    return {
        "llm_model": settings.LLM_MODEL,
        "embedding_model": settings.EMBEDDING_MODEL,
        "retrieval_top_k": settings.DOCINTEL_RETRIEVAL_TOP_K,
        "retrieval_mode": settings.DOCINTEL_RETRIEVAL_MODE,
        "retrieval_fusion": settings.DOCINTEL_RETRIEVAL_FUSION,
        "retrieval_min_dense_score": settings.DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE,
        "first_token_target_s": settings.ANSWER_FIRST_TOKEN_TARGET,
    }


# --- Request -------------------------------------------------------------------------------------------------------
def replay_request(*, response: Response, ctx: ActorContext) -> Replay:
    """Queue a replay of ``response``'s question (the task starts once this transaction commits). Audited.

    A replay of the same answer still pending or running is returned instead of queueing a second one. A broker
    that is down when the transaction commits fails the replay (``broker_unavailable``, see
    :class:`review.tasks.ReplayRunTask`) rather than leaving it pending for ever.

    Args:
        response: the stored answer to replay.
        ctx: the librarian who asks (recorded as ``requested_by``), and from where (the audit row).

    Returns:
        The replay, pending (or the one already pending or running).
    """
    with transaction.atomic():
        Response.objects.select_for_update().filter(pk=response.pk).first()  # one request at a time per answer
        running = Replay.objects.filter(
            response=response, status__in=(Replay.Status.PENDING, Replay.Status.RUNNING)
        ).first()
        if running is not None:
            return running
        query = response.query
        replay = Replay.objects.create(
            response=response,
            requested_by=ctx.actor,
            question=query.standalone_text or query.text,
            replay_settings=_settings_now(),
        )
        audit_log_write(
            action="response_replay_requested",
            ctx=ctx,
            target=response,
            details={"replay_id": replay.pk, "query_id": query.pk, "ask_as": query.user_id},
        )
        _enqueue(replay.pk)
    log.info("response_replay_requested", replay_id=replay.pk, response_id=response.pk)
    return replay


def _enqueue(replay_id: int) -> None:
    """Send the replay's task once the transaction commits (``ReplayRunTask`` fails it if the broker is down)."""
    from review.tasks import replay_run  # noqa: PLC0415 - the task module imports this one

    replay_run.delay_on_commit(replay_id)


# --- Run -----------------------------------------------------------------------------------------------------------
def _claim(replay_id: int) -> bool:
    """Pending → running (or a running one whose worker died past the hard time limit): True when this run owns it."""
    stale = timezone.now() - dt.timedelta(seconds=REPLAY_TIME_LIMIT)
    return bool(
        Replay.objects.filter(pk=replay_id)
        .filter(Q(status=Replay.Status.PENDING) | Q(status=Replay.Status.RUNNING, started_at__lt=stale))
        .update(status=Replay.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    )


def _fail(replay: Replay, *, code: str, message: str) -> Replay:
    replay.status = Replay.Status.FAILED
    replay.error_code = code[:64]
    replay.error_message = message
    replay.finished_at = timezone.now()
    replay.save(update_fields=["status", "error_code", "error_message", "finished_at"])
    audit_log_write(
        action="response_replayed",
        ctx=ActorContext.for_user(replay.requested_by),
        target=replay.response,
        details={"replay_id": replay.pk, "status": replay.status, "error_code": replay.error_code},
    )
    log.warning("response_replay_failed", replay_id=replay.pk, code=code)
    return replay


def replay_execute(*, replay_id: int, final_attempt: bool = True) -> Replay | None:
    """Run a queued replay: ask again, store the new answer and what changed, audit.

    Args:
        replay_id: the Replay to run.
        final_attempt: False while the task may still retry: a transient failure (embeddings or vector store down)
            then puts the replay back to pending and raises, instead of failing it.

    Returns:
        The finished replay, or None when there is nothing to do (unknown, or already claimed by another run).

    Raises:
        TransientError: a dependency is down and ``final_attempt`` is False.
    """
    from chat.services.answering import answer_replay  # noqa: PLC0415 - the answering path loads in the worker only

    bound = log.bind(replay_id=replay_id)
    if not _claim(replay_id):
        bound.info("replay_not_claimed")
        return None
    replay = Replay.objects.select_related("response__query", "requested_by").get(pk=replay_id)
    query = replay.response.query
    try:
        new = async_to_sync(answer_replay)(user_id=query.user_id, text=replay.question)
        if new.status == Response.Status.FAILED:
            error = DocIntelError.for_code(new.error_code)
            raise error(f"The replayed answer failed ({new.error_code}).")
    except DocIntelError as exc:
        if isinstance(exc, TransientError) and not final_attempt:
            Replay.objects.filter(pk=replay.pk).update(status=Replay.Status.PENDING)
            bound.warning("replay_retry", code=exc.code)
            raise
        return _fail(replay, code=exc.code, message=exc.message)
    replay.answer_status = new.status
    replay.text = new.text
    replay.citations = list(new.citations)
    replay.retrieved = list(new.retrieved)
    replay.model_name = new.model_name
    replay.decision = new.decision
    replay.latency_ms = new.latency_ms
    replay.guard_verdicts = new.guard_verdicts
    replay.prompt_tokens = new.prompt_tokens
    replay.completion_tokens = new.completion_tokens
    replay.error_code = new.error_code
    replay.changes = replay_changes(response=replay.response, replay=replay)
    replay.status = Replay.Status.DONE
    replay.finished_at = timezone.now()
    replay.save()
    audit_log_write(
        action="response_replayed",
        ctx=ActorContext.for_user(replay.requested_by),
        target=replay.response,
        details={
            "replay_id": replay.pk,
            "status": replay.status,
            "answer_status": replay.answer_status,
            "model": replay.model_name,
            "summary": replay.changes.get("summary", []),
        },
    )
    bound.info("response_replayed", answer_status=replay.answer_status, changes=len(replay.changes.get("summary", [])))
    return replay


def replay_fail(*, replay_id: int, code: str, message: str) -> None:
    """Mark a replay failed from the task (retries exhausted, time limit): audited like any finished replay.

    A replay already finished (or gone) is left as it is.

    Args:
        replay_id: the replay.
        code: the error code shown on it (``timeout``, ``broker_unavailable``, a transient error's code).
        message: what happened, for the librarian.
    """
    replay = Replay.objects.select_related("response", "requested_by").filter(pk=replay_id).first()
    if replay is not None and not replay.is_finished:
        _fail(replay, code=code, message=message)


# --- What changed ----------------------------------------------------------------------------------------------------
def _document_states(document_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each document's state now: ``current``, ``deleted`` (or gone), ``superseded`` or ``not_current``.

    ``superseded``: a newer version is current; ``not_current``: not searchable for another reason (a version not
    switched to yet).
    """
    documents = Document.objects.in_bulk(list(document_ids))
    active = set(Document.objects.active().filter(pk__in=document_ids).values_list("pk", flat=True))
    states: dict[int, dict[str, Any]] = {}
    for pk in document_ids:
        doc = documents.get(pk)
        if doc is None or doc.deleted_at is not None:
            state = "deleted"
        elif pk in active:
            state = "current"
        elif getattr(doc, "superseded_at", None) is not None or getattr(doc, "is_current", True) is False:
            state = "superseded"
        else:
            state = "not_current"
        states[pk] = {
            "document_id": pk,
            "title": doc.title if doc else "",
            "version": getattr(doc, "version", None) if doc else None,
            "state": state,
        }
    return states


def _why_removed(row: dict[str, Any], chunk: Chunk | None, states: dict[int, dict[str, Any]], visible: set[int]) -> str:
    state = states.get(row.get("document_id") or -1, {}).get("state", "deleted")
    if state in ("deleted", "superseded", "not_current"):
        return f"document_{state}"
    if chunk is None:
        return "passage_replaced"  # the document was re-ingested: its chunks are new rows
    if chunk.quarantined:
        return "passage_quarantined"
    if chunk.document_id not in visible:
        return "not_visible_to_user"
    return "ranked_lower"


WHY = {
    "document_deleted": "its document was deleted",
    "document_superseded": "its document was superseded by a newer version",
    "document_not_current": "its document is not the current version",
    "passage_replaced": "the document was re-ingested (the passage was replaced)",
    "passage_quarantined": "the passage is quarantined",
    "not_visible_to_user": "the user may no longer read its document",
    "ranked_lower": "still in the index, ranked lower now",
}


def _norm(text: str) -> str:
    return " ".join((text or "").split())


def replay_changes(*, response: Response, replay: Replay) -> dict[str, Any]:
    """What differs between the stored answer and its replay, and why (a fixed number of queries).

    Args:
        response: the stored answer.
        replay: its replay, run.

    Returns:
        ``answer_changed``, ``status`` (stored/new), ``model`` (stored/new/changed), ``passages_added``,
        ``passages_removed`` (each with ``why``), ``passages_kept`` (score then and now), ``citations_added`` /
        ``citations_removed`` (chunk ids), ``documents`` (the state now of every document the stored answer used)
        and ``summary``, readable lines.
    """
    stored = {r["chunk_id"]: r for r in response.retrieved or [] if isinstance(r, dict) and "chunk_id" in r}
    new = {r["chunk_id"]: r for r in replay.retrieved or [] if isinstance(r, dict) and "chunk_id" in r}
    stored_cited = {c["chunk_id"] for c in response.citations or [] if isinstance(c, dict) and "chunk_id" in c}
    new_cited = {c["chunk_id"] for c in replay.citations or [] if isinstance(c, dict) and "chunk_id" in c}
    stored_cited_docs = {c.get("document_id") for c in response.citations or [] if isinstance(c, dict)}
    doc_ids = {int(r["document_id"]) for r in [*stored.values(), *new.values()] if r.get("document_id") is not None}
    doc_ids |= {int(d) for d in stored_cited_docs if d is not None}
    states = _document_states(doc_ids)
    chunks = Chunk.objects.in_bulk(list(set(stored) | set(new) | stored_cited))
    user = response.query.user
    visible = set(Document.objects.visible_to(user).filter(pk__in=doc_ids).values_list("pk", flat=True))

    def title(row: dict[str, Any]) -> str:
        return str(states.get(row.get("document_id") or -1, {}).get("title", ""))

    added = [
        {"chunk_id": cid, "document_id": r.get("document_id"), "document_title": title(r), "score": r.get("score")}
        for cid, r in new.items()
        if cid not in stored
    ]
    removed = []
    for cid, row in stored.items():
        if cid in new:
            continue
        why = _why_removed(row, chunks.get(cid), states, visible)
        removed.append(
            {"chunk_id": cid, "document_id": row.get("document_id"), "document_title": title(row),
             "score": row.get("score"), "why": why, "why_text": WHY[why]}
        )  # fmt: skip
    kept = [
        {"chunk_id": cid, "stored_score": stored[cid].get("score"), "new_score": new[cid].get("score")}
        for cid in stored
        if cid in new
    ]
    stored_docs = {int(r["document_id"]) for r in stored.values() if r.get("document_id") is not None}
    stored_docs |= {int(d) for d in stored_cited_docs if d is not None}
    documents = [states[d] for d in sorted(stored_docs) if d in states]
    model = {
        "stored": response.model_name,
        "new": replay.model_name,
        "changed": response.model_name != replay.model_name,
    }
    answer_changed = _norm(response.text) != _norm(replay.text)
    summary: list[str] = []
    for doc in documents:
        if doc["state"] != "current":
            version = f" (version {doc['version']})" if doc.get("version") else ""
            summary.append(f"Document “{doc['title']}”{version} is {doc['state'].replace('_', ' ')} now.")
    for row in added:
        summary.append(f"New passage {row['chunk_id']} from “{row['document_title']}” (score {row['score']}).")
    for row in removed:
        summary.append(f"Passage {row['chunk_id']} from “{row['document_title']}” is gone: {row['why_text']}.")
    if model["changed"]:
        summary.append(f"Model changed: {model['stored'] or '—'} → {model['new'] or '—'}.")
    if response.status != replay.answer_status:
        summary.append(f"Status changed: {response.status} → {replay.answer_status}.")
    if answer_changed:
        summary.append("The answer text changed.")
    if stored_cited != new_cited:
        summary.append(
            f"Citations changed: {len(new_cited - stored_cited)} added, {len(stored_cited - new_cited)} removed."
        )
    if not summary:
        summary.append("Nothing changed: same passages, model, status and answer.")
    return {
        "answer_changed": answer_changed,
        "status": {"stored": response.status, "new": replay.answer_status},
        "model": model,
        "passages_added": added,
        "passages_removed": removed,
        "passages_kept": kept,
        "citations_added": sorted(new_cited - stored_cited),
        "citations_removed": sorted(stored_cited - new_cited),
        "documents": documents,
        "summary": summary,
    }


def replay_passages(*, replay: Replay) -> list[dict[str, Any]]:
    """The replay's passages in the shape of :func:`review.services.queue.response_passages` (for the admin)."""
    shadow = Response(retrieved=replay.retrieved, citations=replay.citations)
    return response_passages(response=shadow)
