"""Follow-up questions made standalone from the session's history, within the answer's time budget."""

from __future__ import annotations

import asyncio
from typing import cast

import structlog

from chat.components.prompting_types import HistoryTurn
from chat.services.answering.budget import speed_get, tokens_count
from chat.services.answering.overlap import matched, terms
from chat.services.pipelines_cache import loop_pipeline

log = structlog.get_logger(__name__)

CONDENSE_SHARE = 0.3  # at most this share of the first-token target may go to condensing
CONDENSE_MAX_TOKENS = 64


def _fallback(text: str, history: list[dict[str, str]]) -> str:
    """The follow-up made standalone without the model: the previous question, then this one."""
    return f"{history[-1]['question']} {text}"


async def question_condense(*, text: str, history: list[dict[str, str]], target_s: float) -> tuple[str, str]:
    """Make a follow-up standalone; skip the model when the rewrite would not fit the time budget.

    Args:
        text: the follow-up question.
        history: the session's last turns (``question``, ``answer``), oldest first.
        target_s: the answer's first-token target; condensing may use ``CONDENSE_SHARE`` of it.

    Returns:
        The standalone question and how it was made: ``model``, ``fallback`` (the model's rewrite was unusable) or
        ``skipped`` (it would not fit the budget, or the speed is unknown): the previous question + this one.
    """
    from chat.components.prompting import CondensePromptBuilder
    from guards import injection_markers

    allowed_s = target_s * CONDENSE_SHARE
    speed = await speed_get()
    messages = CondensePromptBuilder().run(question=text, history=cast("list[HistoryTurn]", history))["messages"]
    counts, _ = await tokens_count([str(m.text or "") for m in messages])
    if speed is None or speed.gen_tps is None:
        return _fallback(text, history), "skipped"
    expected_s = sum(counts) / speed.prompt_tps + CONDENSE_MAX_TOKENS / 2 / speed.gen_tps
    if expected_s > allowed_s:
        log.info("condense_skipped", expected_s=round(expected_s, 2), allowed_s=round(allowed_s, 2))
        return _fallback(text, history), "skipped"
    pipeline = loop_pipeline("condense_pipeline")
    try:
        async with asyncio.timeout(allowed_s * 1.5):
            result = await pipeline.run_async({"prompt": {"question": text, "history": history}})
        candidate = (result["llm"]["replies"][0].text or "").strip().strip('"').splitlines()[0].strip()
    except (TimeoutError, IndexError) as exc:
        log.warning("condense_failed", error_type=type(exc).__name__)
        candidate = ""
    except Exception as exc:  # noqa: BLE001 - condensation is an optimisation; any failure falls back
        log.warning("condense_failed", error_type=type(exc).__name__)
        candidate = ""
    if not candidate or len(candidate) > 400 or injection_markers(candidate):
        return _fallback(text, history), "fallback"
    if not candidate.rstrip().endswith(("?", ";", "\u037e")):  # a statement is the model answering, not rewriting
        return _fallback(text, history), "fallback"
    # A 135M model drops key terms or drifts to another subject: keep the rewrite only when it carries every content
    # term of the follow-up and at least one of the conversation it refers to.
    rewritten = terms(candidate)
    own = terms(text)
    before = terms(" ".join(turn["question"] for turn in history))
    if len(matched(own, rewritten)) < len(own) or (before and not matched(before, rewritten)):
        return _fallback(text, history), "fallback"
    return candidate, "model"
