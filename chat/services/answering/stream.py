"""The question's path, top to bottom: a question in, a streamed, guarded, cited answer out, its provenance stored.

Stages, in order (each a function of this package or of :mod:`chat.services`):

1. input guard (:func:`guards.input_guard`); a blocked question ends here. The question's embedding runs beside it
   (:class:`chat.services.retrieval.EarlyEmbedding`), used only for the very text that is searched, and so does
   the reading of the reader's access scope
2. condense a follow-up within the budget (:mod:`.condense`)
3. permission-filtered hybrid retrieval (:func:`chat.services.retrieval.passages_retrieve`); nothing relevant:
   "the documents do not say"
4. rank the passages' sentences against the question (:mod:`.extractive`): the quotes to fall back on
5. plan the prompt within the first-token target at the model's measured speed (:mod:`.budget`)
6. generate, streaming (:mod:`.generation`)
7. output guard (:func:`guards.output_guard`)
8. check the answer against the passages it cites (:mod:`.citations`)
9. persist (:mod:`.persistence`) and send the final event

Whenever 5–8 cannot deliver a generated, supported answer in the question's language — the model is down, too slow
for its deadline, stalls, answers in another language, is blocked by the output guard, or writes what the passages
do not support — the reader gets the best sentences of the passages as an ``extractive`` answer with the same
citation chips (or, when no sentence answers the question, "the documents do not say"). Transports (WebSocket
consumer, REST/SSE views) call :func:`answer_stream` or :func:`answer_sync` and forward the events of
:mod:`chat.events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog
from asgiref.sync import async_to_sync
from django.conf import settings

from chat.events import AnswerEvent, AnswerFinalEvent, Citation, TokenEvent, answer_event, error_event, token_event
from chat.models import ChatSession, Query, Response
from chat.services.answering import persistence as store
from chat.services.answering.budget import prompt_plan
from chat.services.answering.citations import citations_resolve
from chat.services.answering.condense import question_condense
from chat.services.answering.extractive import Extract, extract_build, sentences_rank
from chat.services.answering.generation import AnswerCancelled, Generated, GenerationStopped, generate
from chat.services.answering.overlap import script_language
from chat.services.answering.persistence import AnswerRun, question_language
from chat.services.retrieval import EarlyEmbedding, RetrievalResult, RetrievedPassage, db_call, passages_retrieve
from docintel.context import ActorContext
from docintel.errors import (
    DocIntelError,
    GuardrailBlocked,
    InvalidInput,
    LLMBadResponse,
    LLMTimeout,
    LLMUnavailable,
    NotAuthenticated,
    RateLimited,
)

log = structlog.get_logger(__name__)

NO_ANSWER = {
    "en": "The documents available to you do not say.",
    "el": "Τα έγγραφα στα οποία έχετε πρόσβαση δεν το αναφέρουν.",
}
BLOCKED_INPUT = "Your question was blocked by the content safety rules."
BLOCKED_OUTPUT = "The answer was withheld by the content safety rules."
_MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass
class AnswerResult:
    """The outcome of :func:`answer_sync` (the REST API's answer)."""

    text: str
    citations: list[Citation]
    response_id: int
    query_id: int
    status: str
    html: str  # the text as every page shows it (chat.events.answer_html), as the stream's final event carries it


def _final(*, text: str, citations: list[Citation], response: Response, query: Query) -> AnswerFinalEvent:
    """The final ``answer`` event of a stored answer (its status is the Response's)."""
    return answer_event(
        text=text, citations=citations, response_id=response.pk, query_id=query.pk, status=response.status
    )


def _append_extract(text: str, citations: list[Citation], extract: Extract) -> tuple[str, list[Citation]]:
    """A supported partial answer followed by the quotes, citation numbers made one sequence."""
    by_chunk = {c["chunk_id"]: c["number"] for c in citations}
    merged = list(citations)
    renumber: dict[int, int] = {}
    for citation in extract.citations:
        number = by_chunk.get(citation["chunk_id"])
        if number is None:
            number = len(merged) + 1
            merged.append({**citation, "number": number})
            by_chunk[citation["chunk_id"]] = number
        renumber[citation["number"]] = number
    quoted = _MARKER.sub(lambda m: f"[{renumber.get(int(m.group(1)), int(m.group(1)))}]", extract.text)
    return f"{text}\n\n{quoted}", merged


async def _generated_answer(
    *,
    question: str,
    language: str,
    retrieval: RetrievalResult,
    ranking: Any,
    run: AnswerRun,
    ctx: ActorContext,
    query: Query,
    cancel: asyncio.Event | None,
    out: Generated,
) -> AsyncIterator[TokenEvent | tuple[str, list[Citation]] | str]:
    """Stages 5–8: token events, then ``(text, citations)`` (a supported answer) or why generation did not deliver."""
    from guards import output_guard

    plan = await prompt_plan(question=question, passages=retrieval.passages, ranking=ranking, elapsed_s=run.elapsed_s())
    run.decision["budget"] = plan.provenance()
    run.prompt_hash = plan.prompt_hash
    if not plan.generate:
        yield plan.reason
        return
    canary = f"DOCINTEL-CANARY-{secrets.token_hex(4)}"
    started = time.perf_counter()
    run.latency["prompt_ready_ms"] = round(run.elapsed_s() * 1000, 1)
    stream = generate(
        question=question, passages=plan.passages, canary=canary, out=out, deadline_s=plan.deadline_s,
        counted_prompt=plan.prompt_tokens, language=language, cancel=cancel,
    )  # fmt: skip
    try:
        async with contextlib.aclosing(stream):
            async for delta in stream:
                if "first_token_ms" not in run.latency:
                    run.latency["first_token_ms"] = round(run.elapsed_s() * 1000, 1)
                yield token_event(delta)
    except GenerationStopped as stop:
        yield stop.reason
        return
    except GuardrailBlocked as exc:
        await db_call(store.audit_blocked)(ctx=ctx, query=query, stage="output", reasons=[str(exc.detail)])
        run.guard["output"] = {"stage": "output", "allowed": False, "reasons": [str(exc.detail)]}
        yield "output_blocked"
        return
    except (LLMTimeout, LLMUnavailable, LLMBadResponse) as exc:
        yield exc.code
        return
    finally:
        run.mark("generation_ms", started)
        run.prompt_hash = out.prompt_hash or run.prompt_hash
        run.prompt_tokens, run.completion_tokens = out.prompt_tokens or plan.prompt_tokens, out.completion_tokens
        run.decision["observed"] = out.observed
    started = time.perf_counter()
    checked = await output_guard(
        question=question, answer=out.raw, canary=canary, system_prompt=out.system_prompt,
        allowed_urls=frozenset(re.findall(r"https?://\S+", " ".join(p.text for p in retrieval.passages))),
    )  # fmt: skip
    run.mark("output_guard_ms", started)
    run.guard["output"] = checked.as_dict()
    if not checked.allowed:
        await db_call(store.audit_blocked)(ctx=ctx, query=query, stage="output", reasons=checked.reasons)
        yield "output_blocked"
        return
    if script_language(checked.text) not in (language, None):
        yield "wrong_language"
        return
    resolution = citations_resolve(answer=checked.text, passages=plan.passages, question=question)
    run.decision["support"] = resolution.provenance()
    if not resolution.supported:
        yield "unsupported"
        return
    yield resolution.text, resolution.citations


async def _quoted(
    *, extract: Extract, question: str, ctx: ActorContext, query: Query, run: AnswerRun
) -> tuple[str, list[Citation]] | None:
    """The extract after the output guard's sanitising (a passage may hold a secret); None when it blocks it."""
    from guards import output_guard

    checked = await output_guard(question=question, answer=extract.text, canary="", system_prompt="")
    run.guard["extractive"] = checked.as_dict()
    if not checked.allowed:
        await db_call(store.audit_blocked)(ctx=ctx, query=query, stage="extractive", reasons=checked.reasons)
        return None
    return checked.text, extract.citations


async def answer_stream(
    *,
    user: Any,
    text: str,
    session: ChatSession | None = None,
    channel: str = "ws",
    cancel: asyncio.Event | None = None,
    ctx: ActorContext | None = None,
) -> AsyncIterator[AnswerEvent]:
    """Answer ``text`` for ``user`` from the documents they may read, streaming tokens as they are generated.

    Yields ``{"type": "token"}`` events, then exactly one ``{"type": "answer"}`` (status ``completed``,
    ``extractive`` or ``no_answer``) or ``{"type": "error"}`` (blocked question, refused, failed, cancelled). The
    user is read again from the database first (roles, groups, ``is_active`` as they are now), then the question
    counts against the user's quotas (:mod:`chat.services.quota`): a refusal is ``rate_limited`` with
    ``retry_after`` and stores nothing. The Query is persisted before generation, the Response once at the end
    with its final status and the decision that led to it; a failure never leaves a partial "completed" answer. No
    database connection is held while the model works.

    Args:
        user: the signed-in reader.
        text: the question; :func:`chat.services.quota.question_check`'s limits apply (else an ``invalid_input``
            error event).
        session: the chat session (its history makes follow-ups standalone), or None for a one-off question.
        channel: ``ws``, ``api`` or ``sse`` (recorded on the Query); ``eval`` (the evaluation harness) has no quota.
        cancel: set it to stop generation; the Response is stored as cancelled.
        ctx: where the question came from (IP, user agent, request id) for the audit rows a blocked question or
            answer writes; built by the transport (``ActorContext.from_scope``, ``from_request``). None: the user
            alone.
    """
    from chat.services.quota import answer_admit, question_check
    from docintel.services import user_current

    # The transports check first to answer in their own way; the service holds the rule for any other caller. The
    # evaluation harness is exempt from the length limit, as from the quota: it asks the attack sets' prompts whole,
    # and some are longer than a reader may send.
    try:
        text = question_check(text=text, limited=channel != "eval")
    except InvalidInput as err:
        yield error_event(code=err.code, message=err.message)
        return
    fresh = await db_call(user_current)(user_id=getattr(user, "pk", None))
    if fresh is None:
        denied = NotAuthenticated("Your account is not active.")
        yield error_event(code=denied.code, message=denied.message)
        return
    slot = None
    if channel != "eval":
        try:
            slot = await answer_admit(user_id=fresh.pk)
        except RateLimited as exc:
            yield error_event(code=exc.code, message=exc.message, retry_after=int(exc.detail["retry_after"]))
            return
    try:
        origin = (ctx or ActorContext.for_user(fresh)).as_actor(fresh)
        stream = _answer(user=fresh, text=text, session=session, channel=channel, cancel=cancel, ctx=origin)
        async with contextlib.aclosing(stream):
            async for event in stream:
                if event["type"] != "token" and slot is not None:
                    await slot.release()  # before the final event: the reader may ask again the moment it arrives
                yield event
    finally:
        if slot is not None:
            await asyncio.shield(slot.release())


async def _answer(
    *,
    user: Any,
    text: str,
    session: ChatSession | None,
    channel: str,
    cancel: asyncio.Event | None,
    keep: list[Response] | None = None,
    ctx: ActorContext | None = None,
) -> AsyncGenerator[AnswerEvent]:
    """Stages 1–9 of :func:`answer_stream` for an admitted question of a current user.

    With ``keep`` (a replay) nothing is written: the Query and Response are built unsaved and the Response is
    appended to ``keep``.
    """
    from guards import input_guard, secrets_redact

    persist = keep is None
    origin = ctx or ActorContext.for_user(user)

    def response_save(**fields: Any) -> Response:
        response = store.response_save(save=persist, **fields)
        if keep is not None:
            keep.append(response)
        return response

    run = AnswerRun(started=time.perf_counter())
    # 1. input guard, with the question's embedding (used only if the guard passes it unchanged) and the reader's
    # access scope started beside it
    early = EarlyEmbedding(text, user)
    try:
        if session is not None:
            await db_call(store.session_check)(user, session)
        started = time.perf_counter()
        verdict = await input_guard(text=text)
        run.mark("guard_ms", started)
    except DocIntelError as exc:
        early.discard()
        yield error_event(code=exc.code, message=exc.message)
        return
    except BaseException:
        early.discard()
        raise
    try:
        run.guard["input"] = verdict.as_dict()
        query = await db_call(store.query_create)(
            user=user, session=session, text=verdict.text, verdict=verdict, channel=channel, save=persist
        )
        bound = log.bind(query_id=query.pk)
        if not verdict.allowed:
            await db_call(store.audit_blocked)(ctx=origin, query=query, stage="input", reasons=verdict.reasons)
            response = await db_call(response_save)(
                query=query, run=run, status=Response.Status.BLOCKED, text="", citations=[],
                error_code=GuardrailBlocked.code,
            )  # fmt: skip
            bound.info("answer_blocked", stage="input", reasons=verdict.reasons)
            yield error_event(
                code=GuardrailBlocked.code, message=BLOCKED_INPUT, response_id=response.pk, query_id=query.pk
            )
            return

        language = question_language(text)
        out = Generated()
        try:
            # 2. condense a follow-up
            question = verdict.text
            if session is not None and settings.DOCINTEL_HISTORY_TURNS > 0:
                history = await db_call(store.history_turns)(session.pk, query.pk, settings.DOCINTEL_HISTORY_TURNS)
                if history:
                    started = time.perf_counter()
                    question, how = await question_condense(
                        text=question, history=history, target_s=settings.ANSWER_FIRST_TOKEN_TARGET
                    )
                    run.mark("condense_ms", started)
                    run.decision["condense"] = how
                    await db_call(store.standalone_save)(query.pk, question)
            # 3. retrieve
            retrieval = await passages_retrieve(user=user, text=question, early=early)
            run.latency["embed_ms"] = round(retrieval.embed_ms, 1)
            run.latency["retrieve_ms"] = round(retrieval.retrieve_ms, 1)
            run.retrieved = [p.provenance() for p in retrieval.passages]
            answer: tuple[str, list[Citation]] | None = None
            reason = "not_relevant"
            extract: Extract | None = None
            if retrieval.relevant():
                # 4. the quotes to fall back on
                ranking = sentences_rank(question=question, passages=retrieval.passages)
                extract = extract_build(ranking=ranking, passages=retrieval.passages, language=language)
                # 5–8. plan, generate, guard, check
                async for item in _generated_answer(
                    question=question, language=language, retrieval=retrieval, ranking=ranking, run=run, ctx=origin,
                    query=query, cancel=cancel, out=out,
                ):  # fmt: skip
                    if isinstance(item, str):
                        reason = item
                    elif isinstance(item, tuple):
                        answer = item
                    else:
                        yield item
            # 9. persist and send
            if answer is not None:
                run.decision.update(status="completed", reason="generated")
                status, (answer_text, citations) = Response.Status.COMPLETED, answer
            else:
                run.decision["reason"] = reason
                if out.raw and reason != "output_blocked":
                    # kept for the librarian, never shown; a credential in it is redacted all the same
                    run.decision["generated_text"] = secrets_redact(out.raw)[:4000]
                quoted = None if extract is None else await _quoted(
                    extract=extract, question=question, ctx=origin, query=query, run=run
                )  # fmt: skip
                if extract is not None:
                    run.decision["extract"] = extract.provenance()
                if quoted is None:
                    status, answer_text, citations = Response.Status.NO_ANSWER, NO_ANSWER[language], []
                else:
                    status, (answer_text, citations) = Response.Status.EXTRACTIVE, quoted
                    partial = out.shown.strip() if reason == "stalled" else ""
                    if partial and extract is not None:  # tokens shown, then a stall: keep what the passages support
                        shown = citations_resolve(
                            answer=partial, passages=_plan_passages(run, retrieval), question=question
                        )
                        if shown.supported:
                            answer_text, citations = _append_extract(shown.text, shown.citations, extract)
            response = await db_call(response_save)(
                query=query, run=run, status=status, text=answer_text, citations=citations
            )
            bound.info(
                "answer_" + status, reason=run.decision.get("reason"), latency=run.latency, citations=len(citations)
            )
            yield _final(text=answer_text, citations=citations, response=response, query=query)
        except DocIntelError as exc:
            response = await db_call(response_save)(
                query=query, run=run, status=Response.Status.FAILED, text="", citations=[], error_code=exc.code
            )
            bound.warning("answer_failed", code=exc.code, latency=run.latency)
            yield error_event(code=exc.code, message=exc.message, response_id=response.pk, query_id=query.pk)
        except AnswerCancelled:
            response = await db_call(response_save)(
                query=query, run=run, status=Response.Status.CANCELLED, text=out.shown, citations=[],
                error_code="cancelled",
            )  # fmt: skip
            bound.info("answer_cancelled")
            yield error_event(
                code="cancelled", message="The answer was cancelled.", response_id=response.pk, query_id=query.pk
            )
        except (asyncio.CancelledError, GeneratorExit):
            # The consumer went away: record what was shown, as cancelled (never "completed"), and stop. A caller that
            # stops reading after the final event closes the generator too: its Response is already stored.
            if keep or await db_call(store.response_exists)(query.pk):
                raise
            await asyncio.shield(
                db_call(response_save)(
                    query=query, run=run, status=Response.Status.CANCELLED, text=out.shown, citations=[],
                    error_code="cancelled",
                )
            )  # fmt: skip
            bound.info("answer_abandoned")
            raise
        except Exception as exc:  # noqa: BLE001 - stream boundary: the caller gets a coded error, the log the cause
            bound.exception("answer_crashed", error_type=type(exc).__name__)
            response = await db_call(response_save)(
                query=query, run=run, status=Response.Status.FAILED, text="", citations=[], error_code="internal_error"
            )
            yield error_event(
                code="internal_error", message=DocIntelError.default_message, response_id=response.pk, query_id=query.pk
            )
    finally:
        early.discard()  # blocked, rewritten or ended: an unused early embedding stops


def _plan_passages(run: AnswerRun, retrieval: RetrievalResult) -> list[RetrievedPassage]:
    """The excerpts the model was shown (their numbers are the ones its tokens cite), rebuilt from the plan."""
    kept = (run.decision.get("budget") or {}).get("kept") or []
    by_chunk = {p.chunk_id: p for p in retrieval.passages}
    return [by_chunk[k["chunk_id"]] for k in kept if k["chunk_id"] in by_chunk]


async def answer_replay(*, user_id: int, text: str) -> Response:
    """Answer ``text`` again for the user ``user_id`` as they are now, through stages 1–9, storing nothing.

    The admin's replay of a stored answer: the same guards, retrieval in the user's current access scope, budget,
    generation and checks as :func:`answer_stream`, but no quota (the reader did not ask), no session (``text`` is
    the stored standalone question), and no Query, Response or guardrail audit row, so nothing reaches the reader's
    history or the API.

    Args:
        user_id: the user who asked the stored question, as they are now (roles, groups, active).
        text: the stored question (its standalone form when it had one).

    Returns:
        The new answer as an unsaved Response (``pk`` None; its ``query`` unsaved too) with all its provenance.

    Raises:
        InvalidInput: the question is empty.
        NotAuthenticated: the user no longer exists or is not active.
        DocIntelError: the coded error of a question that ended before it was answered (the input guard failed).
    """
    from docintel.services import user_current

    text = (text or "").strip()
    if not text:
        raise InvalidInput("The question is empty.")
    fresh = await db_call(user_current)(user_id=user_id)
    if fresh is None:
        raise NotAuthenticated("The user who asked is no longer active.")
    kept: list[Response] = []
    last: AnswerEvent | None = None
    stream = _answer(user=fresh, text=text, session=None, channel="replay", cancel=None, keep=kept)
    async with contextlib.aclosing(stream):
        async for event in stream:
            last = event
    if not kept:
        if last is not None and last["type"] == "error":
            raise DocIntelError.for_code(last["code"])(last["message"])
        raise DocIntelError()
    return kept[-1]


def answer_sync(*, user: Any, text: str, session: ChatSession | None = None, channel: str = "api") -> AnswerResult:
    """Answer without streaming (REST API): the same path and persistence as :func:`answer_stream`.

    Args:
        user: the signed-in reader.
        text: the question.
        session: the chat session the question joins, or None.
        channel: recorded on the Query (``api``; ``eval`` has no quota).

    Returns:
        The final answer (``completed``, ``extractive`` or ``no_answer``) with its citations and stored ids.

    Raises:
        DocIntelError: the coded error the stream ended with (GuardrailBlocked, RateLimited, ...); its ``detail``
            carries ``response_id`` when a Response was stored, ``retry_after`` for a refusal by the quota.
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
        cls = DocIntelError.for_code(event["code"])
        raise cls(
            event["message"], detail={k: v for k, v in event.items() if k in ("response_id", "query_id", "retry_after")}
        )
    assert event["type"] == "answer"
    return AnswerResult(
        text=event["text"],
        citations=event["citations"],
        response_id=event["response_id"],
        query_id=event["query_id"],
        status=event["status"],
        html=event["html"],
    )
