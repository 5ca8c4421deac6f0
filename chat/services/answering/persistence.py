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
from docintel.context import ActorContext
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
        """Record the milliseconds since ``since`` as one stage's latency.

        Args:
            name: the stage's key in ``Response.latency_ms`` (``guard_ms``, ``condense_ms``, ``generation_ms``, ...).
            since: the stage's start, a ``time.perf_counter()`` reading.
        """
        self.latency[name] = round((time.perf_counter() - since) * 1000, 1)

    def elapsed_s(self) -> float:
        """Seconds since the answer started; the budget plans with what is left of the first-token target."""
        return time.perf_counter() - self.started

    def total(self) -> None:
        """Record the whole answer's time as ``latency["total_ms"]`` (the admin's "total ms" column)."""
        self.latency["total_ms"] = round((time.perf_counter() - self.started) * 1000, 1)


def session_check(user: Any, session: ChatSession | None) -> None:
    """Refuse to answer in a session that is not ``user``'s, as if it did not exist.

    Args:
        user: the reader asking.
        session: the session the question joins, or None for a one-off question (always accepted).

    Raises:
        SessionNotFound: the session belongs to another user.
    """
    if session is not None and session.user_id != user.pk:
        raise SessionNotFound()


def query_create(
    *, user: Any, session: ChatSession | None, text: str, verdict: GuardVerdict, channel: str, save: bool = True
) -> Query:
    """Store the question (before any answer is streamed) and touch its session; ``save=False``: build it only.

    Touching the session moves it to the top of the reader's list; a session without a title takes the question's
    first 200 characters as its title.

    Args:
        user: the reader asking.
        session: the session the question joins, or None.
        text: the question as the input guard left it (sanitised).
        verdict: the input guard's verdict, stored without the text.
        channel: ``ws``, ``api``, ``sse``, ``eval`` or ``replay`` (cut to 16 characters).
        save: False for a replay: the Query is built, never written, and the session is not touched.

    Returns:
        The Query, saved or not.
    """
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
    """Store the answer once, at the end, with its final status and provenance; ``save=False``: build it only.

    Args:
        query: the question answered.
        run: what the answer accumulated (latencies, guard verdicts, retrieved chunks, decision, tokens); its total
            time is recorded now.
        status: a :class:`chat.models.Response.Status` value.
        text: the answer shown (empty for a blocked or failed one).
        citations: the citations shown with it.
        error_code: the coded error of a blocked, cancelled or failed answer.
        save: False for a replay: the Response is built, never written.

    Returns:
        The Response, saved or not.
    """
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
    """Whether the answer to ``query_id`` is stored already (a stream closed after its final event stores no other)."""
    return Response.objects.filter(query_id=query_id).exists()


def standalone_save(query_id: int, standalone: str) -> None:
    """Store the standalone form of a follow-up on its Query: later follow-ups and replays use it as the question.

    Args:
        query_id: the follow-up's Query.
        standalone: the condensed question.
    """
    Query.objects.filter(pk=query_id).update(standalone_text=standalone)


def audit_blocked(*, ctx: ActorContext, query: Query, stage: str, reasons: list[str]) -> None:
    """Write the ``guardrail_blocked`` audit row of a question or answer a guard stopped (none for a replay).

    Args:
        ctx: the reader who asked and from where (the transport's IP, user agent and request id).
        query: the question; unsaved (a replay's), nothing is written.
        stage: ``input``, ``output`` or ``extractive``: the guard that stopped it.
        reasons: the guard's reasons (rule and scanner names).
    """
    from audit.services import audit_log_write

    if not query.pk:  # a replay's question, never stored: the replay's own audit row and verdicts record it
        return
    audit_log_write(
        action="guardrail_blocked",
        ctx=ctx,
        target=query,
        details={"stage": stage, "reasons": reasons, "channel": query.channel},
    )


def history_turns(session_id: Any, before_query_id: int, turns: int) -> list[dict[str, str]]:
    """The session's last answered turns before ``before_query_id``, oldest first.

    Only completed and extractive answers count; a turn's question is its standalone form when it has one.

    Args:
        session_id: the session.
        before_query_id: the follow-up being answered (only earlier questions are read).
        turns: how many turns at most (``DOCINTEL_HISTORY_TURNS``).

    Returns:
        ``{"question", "answer"}`` per turn.
    """
    answered = (Response.Status.COMPLETED, Response.Status.EXTRACTIVE)
    rows = (
        Query.objects.filter(session_id=session_id, pk__lt=before_query_id, response__status__in=answered)
        .order_by("-pk")
        .values_list("standalone_text", "text", "response__text")[:turns]
    )
    return [{"question": standalone or text, "answer": answer} for standalone, text, answer in reversed(rows)]
