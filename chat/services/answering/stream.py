"""The answering service: a question in, a streamed, guarded, cited answer out, with its provenance persisted.

Stages: input guard -> (follow-up condensation) -> query embedding -> permission-filtered hybrid retrieval ->
prompt -> streaming generation -> output guard -> citations -> persist. Transports (WebSocket consumer, REST/SSE
views) call :func:`answer_stream` or :func:`answer_sync` and forward the events of :mod:`chat.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone

from chat.components.prompting_types import PromptPassage
from chat.events import AnswerEvent, AnswerFinalEvent, Citation, error_event, token_event
from chat.models import ChatSession, Query, Response
from chat.services.guards import GuardVerdict
from chat.services.retrieval import RetrievalResult, RetrievedPassage, db_call, passages_retrieve
from docintel.errors import (
    DocIntelError,
    GuardrailBlocked,
    InvalidInput,
    LLMBadResponse,
    LLMTimeout,
    LLMUnavailable,
    SessionNotFound,
)

log = structlog.get_logger(__name__)

NO_ANSWER = {
    "en": "The documents available to you do not say.",
    "el": "Τα έγγραφα στα οποία έχετε πρόσβαση δεν το αναφέρουν.",
}
BLOCKED_INPUT = "Your question was blocked by the content safety rules."
BLOCKED_OUTPUT = "The answer was withheld by the content safety rules."
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_WORDS = re.compile(r"\w+")


class AnswerCancelled(Exception):  # a signal, not an error a user sees
    """The caller set the ``cancel`` event."""


@dataclass
class AnswerResult:
    """The outcome of :func:`answer_sync` (the REST API's answer)."""

    text: str
    citations: list[Citation]
    response_id: int
    query_id: int
    status: str


@dataclass
class _Run:
    """Everything one answer accumulates on its way, persisted at the end in one write."""

    started: float
    latency: dict[str, float] = field(default_factory=dict)
    guard: dict[str, Any] = field(default_factory=dict)
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    prompt_hash: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    text: str = ""
    system_prompt: str = ""

    def mark(self, name: str, since: float) -> None:
        self.latency[name] = round((time.perf_counter() - since) * 1000, 1)

    def total(self) -> None:
        self.latency["total_ms"] = round((time.perf_counter() - self.started) * 1000, 1)


def question_language(text: str) -> str:
    return "el" if _GREEK.search(text) else "en"


# --- Persistence (sync, run through db_call) -------------------------------------------------------------------------
def _session_check(user: Any, session: ChatSession | None) -> None:
    if session is not None and session.user_id != user.pk:
        raise SessionNotFound()


def _query_create(*, user: Any, session: ChatSession | None, text: str, verdict: GuardVerdict, channel: str) -> Query:
    query = Query.objects.create(
        session=session,
        user=user,
        text=text,
        language=question_language(text),
        channel=channel[:16],
        guard_verdict=verdict.as_dict(),
    )
    if session is not None:
        ChatSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
        if not session.title:
            ChatSession.objects.filter(pk=session.pk, title="").update(title=text[:200])
    return query


def _response_save(
    *, query: Query, run: _Run, status: str, text: str, citations: list[Citation], error_code: str = ""
) -> Response:
    run.total()
    return Response.objects.create(
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
        prompt_tokens=run.prompt_tokens,
        completion_tokens=run.completion_tokens,
        completed_at=timezone.now(),
    )


def _standalone_save(query_id: int, standalone: str) -> None:
    Query.objects.filter(pk=query_id).update(standalone_text=standalone)


def _audit_blocked(*, user: Any, query: Query, stage: str, reasons: list[str]) -> None:
    from audit.services import audit_log_write

    audit_log_write(
        action="guardrail_blocked",
        actor=user,
        target=query,
        details={"stage": stage, "reasons": reasons, "channel": query.channel},
    )


def _history(session_id: Any, before_query_id: int, turns: int) -> list[dict[str, str]]:
    rows = (
        Query.objects.filter(session_id=session_id, pk__lt=before_query_id, response__status=Response.Status.COMPLETED)
        .order_by("-pk")
        .values_list("standalone_text", "text", "response__text")[:turns]
    )
    return [{"question": standalone or text, "answer": answer} for standalone, text, answer in reversed(rows)]


# --- Pipelines, one set per event loop (their HTTP clients belong to the loop) ---------------------------------------
_generation: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_condense: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _loop_pipeline(cache: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any], factory_name: str) -> Any:
    loop = asyncio.get_running_loop()
    pipeline = cache.get(loop)
    if pipeline is None:
        from chat.pipelines import answering as factories

        pipeline = getattr(factories, factory_name)()
        pipeline.warm_up()
        cache[loop] = pipeline
    return pipeline


def llm_error(exc: BaseException) -> DocIntelError:
    """Map an OpenAI-client / pipeline failure to the coded LLM error a caller sees."""
    import json

    import openai
    import pydantic

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DocIntelError):
            return current
        if isinstance(current, openai.APITimeoutError):
            return LLMTimeout()
        if isinstance(current, openai.APIConnectionError):
            return LLMUnavailable("The language model server is unreachable.")
        if isinstance(current, openai.APIStatusError):
            if current.status_code >= 500 or current.status_code in (404, 408, 429):
                return LLMUnavailable(f"The language model server answered {current.status_code}.")
            return LLMBadResponse(f"The language model server refused the request ({current.status_code}).")
        if isinstance(current, json.JSONDecodeError | pydantic.ValidationError | AssertionError | openai.APIError):
            return LLMBadResponse()
        current = current.__cause__ or current.__context__
    return LLMBadResponse(f"The language model call failed: {type(exc).__name__}.")


# --- Stages -----------------------------------------------------------------------------------------------------------
async def _condense_question(*, text: str, history: list[dict[str, str]]) -> str:
    """A follow-up made standalone from the session's history; falls back to "previous question + this one"."""
    from chat.services.guards import injection_markers

    pipeline = _loop_pipeline(_condense, "condense_pipeline")
    try:
        async with asyncio.timeout(settings.LLM_FIRST_TOKEN_TIMEOUT):
            result = await pipeline.run_async({"prompt": {"question": text, "history": history}})
        candidate = (result["llm"]["replies"][0].text or "").strip().strip('"').splitlines()[0].strip()
    except (TimeoutError, IndexError) as exc:
        log.warning("condense_failed", error_type=type(exc).__name__)
        candidate = ""
    except Exception as exc:  # noqa: BLE001 - condensation is an optimisation; any failure falls back
        log.warning("condense_failed", error_type=type(exc).__name__)
        candidate = ""
    fallback = f"{history[-1]['question']} {text}"
    if not candidate or len(candidate) > 400 or injection_markers(candidate):
        return fallback
    # A 135M model drops key terms: keep the rewrite only when it still carries the follow-up's own words.
    own = set(_WORDS.findall(text.lower()))
    if own and not own & set(_WORDS.findall(candidate.lower())):
        return fallback
    return candidate


def _prompt_passages(passages: list[RetrievedPassage]) -> list[PromptPassage]:
    return [
        {
            "number": n,
            "title": p.document_title,
            "location": p.location,
            "text": p.text,
            "flagged": p.flagged,
        }
        for n, p in enumerate(passages, start=1)
    ]


def _tokens(text: str) -> set[str]:
    from documents.services.textnorm import search_tokens

    return {t for t in search_tokens(text) if len(t) > 2}


def _best_quote(passage: RetrievedPassage, answer_tokens: set[str]) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?;·])\s+|\n+", passage.text) if s.strip()]
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: len(_tokens(s) & answer_tokens))
    return best[:300]


def citations_resolve(*, answer: str, passages: list[RetrievedPassage]) -> tuple[str, list[Citation]]:
    """Resolve the model's ``[n]`` markers to the passages it was shown; never trust the model beyond that.

    Unknown numbers are dropped from the text and the citations. When the model cites nothing, the passages that
    share the most words with the answer are attached (at most two).

    Returns:
        The answer with invalid markers removed, and the citations in order of first mention.
    """
    numbers: list[int] = []

    def keep(match: re.Match[str]) -> str:
        valid = []
        for part in match.group(1).split(","):
            n = int(part)
            if 1 <= n <= len(passages):
                valid.append(n)
                if n not in numbers:
                    numbers.append(n)
        return "".join(f"[{n}]" for n in valid)

    text = re.sub(r"[ \t]+([.,;])", r"\1", _CITATION.sub(keep, answer)).strip()
    answer_tokens = _tokens(text)
    if not numbers and passages:
        overlaps = sorted(((len(_tokens(p.text) & answer_tokens), -i) for i, p in enumerate(passages)), reverse=True)
        numbers = [-neg + 1 for overlap, neg in overlaps[:2] if overlap > 0] or [1]
    citations: list[Citation] = []
    for n in numbers:
        p = passages[n - 1]
        citations.append(
            {
                "number": n,
                "chunk_id": p.chunk_id,
                "document_id": p.document_id,
                "document_title": p.document_title,
                "page": p.page,
                "page_end": p.page_end,
                "heading": p.heading,
                "location": p.location,
                "quote": _best_quote(p, answer_tokens),
                "score": round(p.score, 6),
                "url": f"/documents/{p.document_id}/source/?chunk={p.chunk_id}",
            }
        )
    return text, citations


def _holdback(raw: str, canary: str) -> int:
    """Characters of ``raw`` that may be shown now (see guards.stream_safe_length; a canary prefix is held too)."""
    from chat.services.guards import stream_safe_length

    safe = stream_safe_length(raw)
    for k in range(min(len(canary) - 1, len(raw)), 0, -1):
        if raw.lower().endswith(canary[:k].lower()):
            safe = min(safe, len(raw) - k)
            break
    return safe


async def _generate(
    *,
    question: str,
    passages: list[RetrievedPassage],
    canary: str,
    run: _Run,
    cancel: asyncio.Event | None,
) -> AsyncGenerator[str]:
    """Stream the answer's visible text deltas; leaves the raw answer in ``run.text``.

    Raises:
        LLMTimeout: no first token within LLM_FIRST_TOKEN_TIMEOUT, or no end within LLM_TIMEOUT.
        LLMUnavailable, LLMBadResponse: the server is down or answers garbage.
        GuardrailBlocked: the canary appeared in the stream (a system-prompt leak): generation is stopped.
        asyncio.CancelledError: ``cancel`` was set.
    """
    from chat.services.guards import sanitize_output

    pipeline = _loop_pipeline(_generation, "generation_pipeline")
    nonce = secrets.token_hex(6)
    started = time.perf_counter()
    handle = pipeline.stream(
        {"prompt": {"question": question, "passages": _prompt_passages(passages), "canary": canary, "nonce": nonce}},
        include_outputs_from={"prompt"},
    )
    chunks = handle.__aiter__()
    raw = ""
    shown = ""
    first = True
    pieces = 0
    try:
        while True:
            limit = settings.LLM_FIRST_TOKEN_TIMEOUT if first else settings.LLM_TIMEOUT
            remaining = limit - (time.perf_counter() - started)
            if cancel is not None and cancel.is_set():
                raise AnswerCancelled()
            try:
                chunk = await asyncio.wait_for(anext(chunks), timeout=max(0.01, remaining))
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                raise LLMTimeout("The language model did not start answering in time." if first else None) from exc
            if not chunk.content:
                continue
            if first:
                first = False
                run.latency["first_token_ms"] = round((time.perf_counter() - run.started) * 1000, 1)
            pieces += 1
            raw += chunk.content
            if canary.lower() in raw.lower():
                raise GuardrailBlocked("The answer was withheld by the content safety rules.", detail="canary_leak")
            view, _ = sanitize_output(raw[: _holdback(raw, canary)])
            if view.startswith(shown) and len(view) > len(shown):
                delta, shown = view[len(shown) :], view
                yield delta
        result = handle.result
    except (DocIntelError, AnswerCancelled, asyncio.CancelledError, GeneratorExit):
        await handle.aclose()
        raise
    except Exception as exc:
        await handle.aclose()
        raise llm_error(exc) from exc
    finally:
        run.text = raw
        run.mark("generation_ms", started)
    run.prompt_hash = str(result["prompt"]["prompt_hash"])
    run.guard["system_prompt_hash"] = run.prompt_hash[:12]
    run.system_prompt = str(result["prompt"]["system_prompt"])
    replies = result["llm"]["replies"]
    usage = (replies[0].meta.get("usage") or {}) if replies else {}
    run.prompt_tokens = int(usage.get("prompt_tokens") or 0)
    run.completion_tokens = int(usage.get("completion_tokens") or pieces)
    if not raw.strip():
        raise LLMBadResponse("The language model returned an empty answer.")


# --- The service ----------------------------------------------------------------------------------------------------
def _response_exists(query_id: int) -> bool:
    return Response.objects.filter(query_id=query_id).exists()


async def answer_stream(
    *,
    user: Any,
    text: str,
    session: ChatSession | None = None,
    channel: str = "ws",
    cancel: asyncio.Event | None = None,
) -> AsyncIterator[AnswerEvent]:
    """Answer ``text`` for ``user`` from the documents they may read, streaming tokens as they are generated.

    Yields ``{"type": "token"}`` events, then exactly one ``{"type": "answer"}`` (status completed / no_answer) or
    ``{"type": "error"}`` (blocked, failed, cancelled). The Query is persisted before generation, the Response once
    at the end with its final status; a failure never leaves a partial "completed" answer. No database connection is
    held while the model works.

    Args:
        user: the signed-in reader.
        text: the question.
        session: the chat session (its history makes follow-ups standalone), or None for a one-off question.
        channel: ``ws``, ``api`` or ``sse`` (recorded on the Query).
        cancel: set it to stop generation; the Response is stored as cancelled.
    """
    from chat.services.guards import input_guard, output_guard

    run = _Run(started=time.perf_counter())
    text = (text or "").strip()
    if not text:
        err = InvalidInput("The question is empty.")
        yield error_event(code=err.code, message=err.message)
        return
    try:
        if session is not None:
            await db_call(_session_check)(user, session)
        started = time.perf_counter()
        verdict = await input_guard(text=text)
        run.mark("guard_ms", started)
    except DocIntelError as exc:
        yield error_event(code=exc.code, message=exc.message)
        return
    run.guard["input"] = verdict.as_dict()
    query = await db_call(_query_create)(
        user=user, session=session, text=verdict.text, verdict=verdict, channel=channel
    )
    bound = log.bind(query_id=query.pk)
    if not verdict.allowed:
        await db_call(_audit_blocked)(user=user, query=query, stage="input", reasons=verdict.reasons)
        response = await db_call(_response_save)(
            query=query,
            run=run,
            status=Response.Status.BLOCKED,
            text="",
            citations=[],
            error_code=GuardrailBlocked.code,
        )
        bound.info("answer_blocked", stage="input", reasons=verdict.reasons)
        yield error_event(code=GuardrailBlocked.code, message=BLOCKED_INPUT, response_id=response.pk, query_id=query.pk)
        return

    canary = f"DOCINTEL-CANARY-{secrets.token_hex(4)}"
    status = Response.Status.FAILED
    try:
        question = verdict.text
        if session is not None and settings.DOCINTEL_HISTORY_TURNS > 0:
            history = await db_call(_history)(session.pk, query.pk, settings.DOCINTEL_HISTORY_TURNS)
            if history:
                started = time.perf_counter()
                question = await _condense_question(text=question, history=history)
                run.mark("condense_ms", started)
                await db_call(_standalone_save)(query.pk, question)

        retrieval: RetrievalResult = await passages_retrieve(user=user, text=question)
        run.latency["embed_ms"] = round(retrieval.embed_ms, 1)
        run.latency["retrieve_ms"] = round(retrieval.retrieve_ms, 1)
        run.retrieved = [p.provenance() for p in retrieval.passages]
        if not retrieval.relevant():
            status = Response.Status.NO_ANSWER
            no_answer = NO_ANSWER[question_language(text)]
            response = await db_call(_response_save)(query=query, run=run, status=status, text=no_answer, citations=[])
            bound.info("answer_no_answer", passages=len(retrieval.passages))
            final: AnswerFinalEvent = {
                "type": "answer", "text": no_answer, "citations": [], "response_id": response.pk,
                "query_id": query.pk, "status": status,
            }  # fmt: skip
            yield final
            return

        run.latency["prompt_ready_ms"] = round((time.perf_counter() - run.started) * 1000, 1)
        generation = _generate(question=question, passages=retrieval.passages, canary=canary, run=run, cancel=cancel)
        async with contextlib.aclosing(generation):
            async for delta in generation:
                yield token_event(delta)

        started = time.perf_counter()
        checked = await output_guard(
            question=question,
            answer=run.text,
            canary=canary,
            system_prompt=run.system_prompt,
            allowed_urls=frozenset(re.findall(r"https?://\S+", " ".join(p.text for p in retrieval.passages))),
        )
        run.mark("output_guard_ms", started)
        run.guard["output"] = checked.as_dict()
        if not checked.allowed:
            raise GuardrailBlocked(BLOCKED_OUTPUT, detail=checked.reasons)
        answer_text, citations = citations_resolve(answer=checked.text, passages=retrieval.passages)
        status = Response.Status.COMPLETED
        response = await db_call(_response_save)(
            query=query, run=run, status=status, text=answer_text, citations=citations
        )
        bound.info("answer_completed", latency=run.latency, citations=len(citations))
        done: AnswerFinalEvent = {
            "type": "answer", "text": answer_text, "citations": citations, "response_id": response.pk,
            "query_id": query.pk, "status": status,
        }  # fmt: skip
        yield done
    except GuardrailBlocked as exc:
        reasons = exc.detail if isinstance(exc.detail, list) else [str(exc.detail or "blocked")]
        run.guard.setdefault("output", {"stage": "output", "allowed": False, "reasons": reasons})
        await db_call(_audit_blocked)(user=user, query=query, stage="output", reasons=reasons)
        response = await db_call(_response_save)(
            query=query, run=run, status=Response.Status.BLOCKED, text="", citations=[], error_code=exc.code
        )
        bound.info("answer_blocked", stage="output", reasons=reasons)
        yield error_event(code=exc.code, message=BLOCKED_OUTPUT, response_id=response.pk, query_id=query.pk)
    except DocIntelError as exc:
        response = await db_call(_response_save)(
            query=query, run=run, status=Response.Status.FAILED, text="", citations=[], error_code=exc.code
        )
        bound.warning("answer_failed", code=exc.code, latency=run.latency)
        yield error_event(code=exc.code, message=exc.message, response_id=response.pk, query_id=query.pk)
    except AnswerCancelled:
        response = await db_call(_response_save)(
            query=query, run=run, status=Response.Status.CANCELLED, text=run.text, citations=[], error_code="cancelled"
        )
        bound.info("answer_cancelled")
        yield error_event(
            code="cancelled", message="The answer was cancelled.", response_id=response.pk, query_id=query.pk
        )
    except (asyncio.CancelledError, GeneratorExit):
        # The consumer went away: record what was generated, as cancelled (never "completed"), and stop. A caller
        # that stops reading after the final event closes the generator too: its Response is already stored.
        if await db_call(_response_exists)(query.pk):
            raise
        await asyncio.shield(
            db_call(_response_save)(
                query=query,
                run=run,
                status=Response.Status.CANCELLED,
                text=run.text,
                citations=[],
                error_code="cancelled",
            )
        )
        bound.info("answer_abandoned")
        raise
    except Exception as exc:  # noqa: BLE001 - stream boundary: the caller gets a coded error, the log the cause
        bound.exception("answer_crashed", error_type=type(exc).__name__)
        response = await db_call(_response_save)(
            query=query, run=run, status=Response.Status.FAILED, text="", citations=[], error_code="internal_error"
        )
        yield error_event(
            code="internal_error", message=DocIntelError.default_message, response_id=response.pk, query_id=query.pk
        )


def _error_class(code: str) -> type[DocIntelError]:
    pending: list[type[DocIntelError]] = [DocIntelError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return DocIntelError


def answer_sync(*, user: Any, text: str, session: ChatSession | None = None, channel: str = "api") -> AnswerResult:
    """Answer without streaming (REST API): the same pipeline and persistence as :func:`answer_stream`.

    Raises:
        DocIntelError: the coded error the stream ended with (GuardrailBlocked, LLMTimeout, ...); its ``detail``
            carries ``response_id`` when a Response was stored.
    """

    async def collect() -> AnswerEvent:
        last: AnswerEvent | None = None
        async for event in answer_stream(user=user, text=text, session=session, channel=channel):
            if event["type"] != "token":
                last = event
        assert last is not None
        return last

    event = async_to_sync(collect)()
    if event["type"] == "error":
        cls = _error_class(event["code"])
        raise cls(event["message"], detail={k: v for k, v in event.items() if k in ("response_id", "query_id")})
    assert event["type"] == "answer"
    return AnswerResult(
        text=event["text"],
        citations=event["citations"],
        response_id=event["response_id"],
        query_id=event["query_id"],
        status=event["status"],
    )
