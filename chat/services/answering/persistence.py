"""What an answer writes: the Query before it, the Response once at the end with its provenance.

Sync functions, run through :func:`chat.services.retrieval.db_call` so no connection is held while the model works.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from chat.events import Citation
from chat.models import ChatSession, Query, Response
from docintel.errors import SessionNotFound
from guards import GuardVerdict

_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")


def question_language(text: str) -> str:
    """``el`` for a question with any Greek letter, else ``en``."""
    return "el" if _GREEK.search(text) else "en"


@dataclass
class AnswerRun:
    """Everything one answer accumulates on its way, persisted at the end in one write."""

    started: float
    latency: dict[str, float] = field(default_factory=dict)
    guard: dict[str, Any] = field(default_factory=dict)
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] = field(default_factory=dict)
    prompt_hash: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    text: str = ""

    def mark(self, name: str, since: float) -> None:
        self.latency[name] = round((time.perf_counter() - since) * 1000, 1)

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def total(self) -> None:
        self.latency["total_ms"] = round((time.perf_counter() - self.started) * 1000, 1)


def session_check(user: Any, session: ChatSession | None) -> None:
    if session is not None and session.user_id != user.pk:
        raise SessionNotFound()


def query_create(
    *, user: Any, session: ChatSession | None, text: str, verdict: GuardVerdict, channel: str, save: bool = True
) -> Query:
    """Store the question (before any answer is streamed) and touch its session; ``save=False``: build it only."""
    query = Query(
        session=session,
        user=user,
        text=text,
        language=question_language(text),
        channel=channel[:16],
        guard_verdict=verdict.as_dict(),
    )
    if not save:
        return query
    query.save()
    if session is not None:
        ChatSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
        if not session.title:
            ChatSession.objects.filter(pk=session.pk, title="").update(title=text[:200])
    return query


def response_save(
    *,
    query: Query,
    run: AnswerRun,
    status: str,
    text: str,
    citations: list[Citation],
    error_code: str = "",
    save: bool = True,
) -> Response:
    """Store the answer once, at the end, with its final status and provenance; ``save=False``: build it only."""
    run.total()
    run.decision.setdefault("status", status)
    response = Response(
        query=query,
        text=text,
        citations=list(citations),
        status=status,
        error_code=error_code,
        model_name=settings.LLM_MODEL,
        retrieved=run.retrieved,
        prompt_hash=run.prompt_hash,
        guard_verdicts=run.guard,
        latency_ms=run.latency,
        decision=run.decision,
        prompt_tokens=run.prompt_tokens,
        completion_tokens=run.completion_tokens,
        completed_at=timezone.now(),
    )
    if save:
        response.save()
    return response


def response_exists(query_id: int) -> bool:
    return Response.objects.filter(query_id=query_id).exists()


def standalone_save(query_id: int, standalone: str) -> None:
    Query.objects.filter(pk=query_id).update(standalone_text=standalone)


def audit_blocked(*, user: Any, query: Query, stage: str, reasons: list[str]) -> None:
    from audit.services import audit_log_write

    if not query.pk:  # a replay's question, never stored: the replay's own audit row and verdicts record it
        return
    audit_log_write(
        action="guardrail_blocked",
        actor=user,
        target=query,
        details={"stage": stage, "reasons": reasons, "channel": query.channel},
    )


def history_turns(session_id: Any, before_query_id: int, turns: int) -> list[dict[str, str]]:
    """The session's last answered turns before ``before_query_id``, oldest first."""
    answered = (Response.Status.COMPLETED, Response.Status.EXTRACTIVE)
    rows = (
        Query.objects.filter(session_id=session_id, pk__lt=before_query_id, response__status__in=answered)
        .order_by("-pk")
        .values_list("standalone_text", "text", "response__text")[:turns]
    )
    return [{"question": standalone or text, "answer": answer} for standalone, text, answer in reversed(rows)]
