"""Streaming generation against the configured LLM, held to the plan's deadlines, with what it observed of the speed.

The first token must come within the plan's deadline, and later tokens without a silence of ANSWER_STALL_SECONDS;
the answer must start in the question's language. Each way of not delivering stops generation with a reason the
caller turns into the extractive answer. What the stream shows is held back until it cannot turn into markup the
output guard would strip, or into the canary.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from chat.components.prompting_types import PromptPassage
from chat.services.answering.budget import generation_slot, speed_record
from chat.services.answering.errors import llm_error
from chat.services.answering.overlap import letters, script_language
from chat.services.pipelines_cache import loop_pipeline
from chat.services.retrieval import RetrievedPassage
from docintel.errors import DocIntelError, GuardrailBlocked, LLMBadResponse, LLMTimeout

# Letters of an answer seen before it is shown (or stopped for its language): a Greek question's answer is held
# longer, since the bundled model's switch to English is the common case; an English one shows almost at once.
LANGUAGE_CHECK_LETTERS = {"el": 24, "en": 12}


class AnswerCancelled(Exception):  # a signal, not an error a user sees
    """The caller set the ``cancel`` event."""


class GenerationStopped(Exception):  # a signal: the caller answers with quotes instead
    """Generation could not deliver: ``reason`` is ``llm_timeout``, ``stalled`` or ``wrong_language``."""

    def __init__(self, reason: str) -> None:
        """Stop with ``reason``, which becomes the answer decision's reason for the quoted answer."""
        super().__init__(reason)
        self.reason = reason


@dataclass
class Generated:
    """What one generation produced and observed."""

    raw: str = ""
    shown: str = ""
    prompt_hash: str = ""
    system_prompt: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_s: float | None = None
    observed: dict[str, Any] = field(default_factory=dict)


def prompt_passages(passages: list[RetrievedPassage]) -> list[PromptPassage]:
    """The passages as the prompt builder takes them, numbered from 1."""
    return [
        {"number": n, "title": p.document_title, "location": p.location, "text": p.text, "flagged": p.flagged}
        for n, p in enumerate(passages, start=1)
    ]


def _holdback(raw: str, canary: str) -> int:
    """Characters of ``raw`` that may be shown now (see guards.stream_safe_length; a canary prefix is held too)."""
    from guards import stream_safe_length

    safe = stream_safe_length(raw)
    for k in range(min(len(canary) - 1, len(raw)), 0, -1):
        if raw.lower().endswith(canary[:k].lower()):
            safe = min(safe, len(raw) - k)
            break
    return safe


async def _observe(out: Generated, *, counted_prompt: int, started: float, ended: float) -> None:
    """Fold what this generation saw into the model's running speed estimate."""
    if out.first_token_s is None:
        # no token by the deadline: the server reads slower than counted_prompt / waited
        waited = ended - started
        if counted_prompt and waited > 0:
            out.observed = {"prompt_tps_upper_bound": round(counted_prompt / waited, 1)}
            await speed_record(prompt_tps=counted_prompt / waited, gen_tps=None, source="timeout")
        return
    # tokens the server had cached were not read again: the speed is that of the tokens it did read
    prompt = (out.prompt_tokens - int(out.observed.get("cached_tokens", 0))) if out.prompt_tokens else counted_prompt
    prompt_tps = prompt / out.first_token_s if out.first_token_s > 0 else None
    gen_time = ended - started - out.first_token_s
    gen_tps = out.completion_tokens / gen_time if out.completion_tokens > 1 and gen_time > 0.05 else None
    out.observed = {
        "prompt_tps": None if prompt_tps is None else round(prompt_tps, 1),
        "gen_tps": None if gen_tps is None else round(gen_tps, 1),
    }
    await speed_record(prompt_tps=prompt_tps, gen_tps=gen_tps, source="observed")


async def generate(
    *,
    question: str,
    passages: list[RetrievedPassage],
    canary: str,
    out: Generated,
    deadline_s: float,
    counted_prompt: int,
    language: str,
    cancel: asyncio.Event | None,
) -> AsyncGenerator[str]:
    """Stream the answer's visible text deltas; ``out`` collects the raw text and what was observed.

    What is yielded is the sanitised view of the text so far, held back while it could still turn into stripped
    markup or the canary, and not before the answer's language is known. While it runs it counts as one of this
    process's concurrent generations (they share the measured speed when prompts are planned).

    Args:
        question: the (standalone) question.
        passages: the passages the plan kept, numbered from 1 in the prompt.
        canary: the secret marker in the system prompt; seen in the stream, it stops generation.
        out: filled with the raw and shown text, token counts, prompt hash, system prompt and observed speed, also
            when generation stops early.
        deadline_s: the longest wait for the first token (the plan's).
        counted_prompt: the prompt's tokens as the plan counted them (for the speed estimate when the server does not
            report usage).
        language: the question's language (``el``/``en``); the answer must start in it.
        cancel: set by the caller to stop.

    Yields:
        The text to append to what the reader sees.

    Raises:
        GenerationStopped: no first token within ``deadline_s`` (``llm_timeout``), a silence longer than
            ANSWER_STALL_SECONDS or no end within LLM_TIMEOUT (``stalled``), or an answer in another language
            than the question's (``wrong_language``).
        LLMUnavailable, LLMBadResponse: the server is down, or answers garbage or nothing.
        GuardrailBlocked: the canary appeared in the stream (a system-prompt leak): generation is stopped.
        AnswerCancelled: ``cancel`` was set.
        LLMTimeout: the stream ended without a first token.
    """
    from guards import sanitize_output

    pipeline = loop_pipeline("generation_pipeline")
    nonce = secrets.token_hex(6)
    started = time.perf_counter()
    hold_for_language = True  # the answer must be in the question's language (a 135M model often switches)
    handle = pipeline.stream(
        {"prompt": {"question": question, "passages": prompt_passages(passages), "canary": canary, "nonce": nonce}},
        include_outputs_from={"prompt"},
    )
    chunks = handle.__aiter__()
    pieces = 0
    last = started
    result: Any = None
    with generation_slot():
        try:
            while True:
                now = time.perf_counter()
                if cancel is not None and cancel.is_set():
                    raise AnswerCancelled()
                if out.first_token_s is None:
                    wait, reason = deadline_s - (now - started), "llm_timeout"
                else:
                    wait = min(settings.ANSWER_STALL_SECONDS - (now - last), settings.LLM_TIMEOUT - (now - started))
                    reason = "stalled"
                try:
                    chunk = await asyncio.wait_for(anext(chunks), timeout=max(0.01, wait))
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise GenerationStopped(reason) from exc
                if not chunk.content:
                    continue
                last = time.perf_counter()
                if out.first_token_s is None:
                    out.first_token_s = last - started
                pieces += 1
                out.raw += chunk.content
                if canary.lower() in out.raw.lower():
                    raise GuardrailBlocked("The answer was withheld by the content safety rules.", detail="canary_leak")
                if hold_for_language:
                    if letters(out.raw) < LANGUAGE_CHECK_LETTERS.get(language, 12):
                        continue
                    if script_language(out.raw) != language:
                        raise GenerationStopped("wrong_language")
                    hold_for_language = False
                view, _ = sanitize_output(out.raw[: _holdback(out.raw, canary)])
                if view.startswith(out.shown) and len(view) > len(out.shown):
                    delta, out.shown = view[len(out.shown) :], view
                    yield delta
            result = handle.result
        except (DocIntelError, AnswerCancelled, GenerationStopped, asyncio.CancelledError, GeneratorExit):
            await handle.aclose()
            raise
        except Exception as exc:
            await handle.aclose()
            raise llm_error(exc) from exc
        finally:
            ended = time.perf_counter()
            if result is not None:
                replies = result["llm"]["replies"]
                usage = (replies[0].meta.get("usage") or {}) if replies else {}
                cached = int(((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0)
                out.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                out.completion_tokens = int(usage.get("completion_tokens") or pieces)
                out.prompt_hash = str(result["prompt"]["prompt_hash"])
                out.system_prompt = str(result["prompt"]["system_prompt"])
                out.observed["cached_tokens"] = cached
            await asyncio.shield(_observe(out, counted_prompt=counted_prompt, started=started, ended=ended))
    if hold_for_language and out.raw.strip():
        # a short answer that ended before the language could be told: decide on what there is
        if script_language(out.raw) not in (language, None):
            raise GenerationStopped("wrong_language")
        view, _ = sanitize_output(out.raw)
        out.shown = view
        yield view
    if not out.raw.strip():
        raise LLMBadResponse("The language model returned an empty answer.")
    if out.first_token_s is None:
        raise LLMTimeout()
