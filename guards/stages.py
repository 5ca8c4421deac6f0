"""The two guard stages of an answer: the input guard on the question and the output guard on the answer."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import structlog

from guards.rails import nemo_check, nemo_rails_enabled
from guards.rules import injection_markers
from guards.sanitize import leak_reasons, sanitize_output
from guards.scanners import input_scanners, output_scanners, run_scanners

log = structlog.get_logger(__name__)


@dataclass
class GuardVerdict:
    """What one guard stage decided about a text."""

    stage: Literal["input", "output", "passage"]
    allowed: bool
    text: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    nemo: str = "off"
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``Query.guard_verdict`` / ``Response.guard_verdicts`` (without the text itself)."""
        data = asdict(self)
        data.pop("text")
        return data


async def input_guard(*, text: str) -> GuardVerdict:
    """Check a question before anything else sees it.

    Returns:
        The verdict; ``text`` is the sanitised question (invisible characters and secrets removed).

    Raises:
        LLMUnavailable, LLMTimeout: the NeMo rail is enabled and its model failed.
    """
    from asgiref.sync import sync_to_async

    started = time.perf_counter()
    verdict = GuardVerdict(stage="input", allowed=True, text=text)
    markers = injection_markers(text)
    if markers:
        verdict.reasons.append("rule:prompt_injection")
        verdict.notes.extend(markers)
    scanners, sanitisers = input_scanners()
    sanitised, valid, scores = await sync_to_async(run_scanners, thread_sensitive=False)(scanners, text, output_of=None)
    verdict.text = sanitised
    verdict.scores = scores
    for name, ok in valid.items():
        if ok:
            continue
        if name in sanitisers:
            verdict.notes.append(f"llm_guard:{name}:sanitised")
        else:
            verdict.reasons.append(f"llm_guard:{name}")
    if not verdict.reasons and nemo_rails_enabled("input"):
        allowed, detail = await nemo_check(stage="input", question=sanitised)
        verdict.nemo = detail
        if not allowed:
            verdict.reasons.append(detail)
    verdict.allowed = not verdict.reasons
    verdict.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return verdict


async def output_guard(
    *, question: str, answer: str, canary: str, system_prompt: str, allowed_urls: frozenset[str] = frozenset()
) -> GuardVerdict:
    """Check and sanitise a complete answer: leaks block it, exfiltration markup and secrets are removed.

    Args:
        question: the question answered (the output scanners and the NeMo rail read it with the answer).
        answer: the complete answer, or the extractive answer's quotes.
        canary: the secret marker of the system prompt; found in the answer, it blocks it (empty: no check).
        system_prompt: the system prompt the model had; eight consecutive words of it block the answer.
        allowed_urls: links the retrieved passages themselves contain, kept in the answer.

    Returns:
        The verdict; ``text`` is the sanitised answer, ``allowed`` False when a leak (or the NeMo rail) blocks it.

    Raises:
        LLMUnavailable, LLMTimeout: the NeMo rail is enabled and its model failed.
    """
    from asgiref.sync import sync_to_async

    started = time.perf_counter()
    verdict = GuardVerdict(stage="output", allowed=True, text=answer)
    verdict.reasons.extend(leak_reasons(answer, canary=canary, system_prompt=system_prompt))
    sanitised, changes = sanitize_output(answer, allowed_urls=allowed_urls)
    verdict.notes.extend(f"rule:{c}:sanitised" for c in changes)
    sanitised, valid, scores = await sync_to_async(run_scanners, thread_sensitive=False)(
        output_scanners(), sanitised, output_of=question
    )
    verdict.scores = scores
    if not valid.get("Secrets", True):
        verdict.notes.append("llm_guard:Secrets:sanitised")
    if not valid.get("NoRefusalLight", True):
        verdict.notes.append("llm_guard:NoRefusalLight:refusal")
    verdict.text = sanitised.strip()
    if not verdict.reasons and nemo_rails_enabled("output"):
        allowed, detail = await nemo_check(stage="output", question=question, answer=verdict.text)
        verdict.nemo = detail
        if not allowed:
            verdict.reasons.append(detail)
    verdict.allowed = not verdict.reasons
    verdict.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return verdict
