"""NeMo Guardrails self-check rails (``guards/guardrails/``) against the configured LLM.

Used when ``DOCINTEL_NEMO_RAILS`` enables them. Their verdict is used; NeMo's internal-error reply is detected and
treated as an error.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog
from django.conf import settings

from docintel.errors import LLMBadResponse, LLMTimeout, LLMUnavailable

if TYPE_CHECKING:
    from nemoguardrails import LLMRails

log = structlog.get_logger(__name__)

NEMO_INTERNAL_ERROR = "I'm sorry, an internal error has occurred."
GUARDRAILS_DIR = Path(__file__).resolve().parent / "guardrails"


def nemo_rails_enabled(stage: Literal["input", "output"]) -> bool:
    """Whether ``DOCINTEL_NEMO_RAILS`` turns on NeMo's self-check rail for this guard stage (off by default)."""
    return stage in settings.DOCINTEL_NEMO_RAILS


@functools.cache
def _nemo_rails(base_url: str, model: str, api_key: str) -> LLMRails:
    """NeMo's rails from ``guards/guardrails/`` pointed at this LLM, built once per configuration (cached)."""
    import yaml
    from nemoguardrails import LLMRails, RailsConfig

    data = yaml.safe_load((GUARDRAILS_DIR / "config.yml").read_text(encoding="utf-8"))
    for entry in data["models"]:
        entry["model"] = model
        entry.setdefault("parameters", {}).update({"base_url": base_url, "api_key": api_key})
    prompts = yaml.safe_load((GUARDRAILS_DIR / "prompts.yml").read_text(encoding="utf-8"))
    data.update(prompts)
    config = RailsConfig.from_content(yaml_content=yaml.safe_dump(data, allow_unicode=True))
    return LLMRails(config)


async def nemo_check(*, stage: Literal["input", "output"], question: str, answer: str = "") -> tuple[bool, str]:
    """Run NeMo's self-check rail for ``stage``.

    Args:
        stage: ``input`` checks the question; ``output`` checks the answer to it.
        question: the (sanitised) question.
        answer: the sanitised answer, for the output stage.

    Returns:
        ``(allowed, detail)``: detail names the blocking rail, or "passed".

    Raises:
        LLMUnavailable: NeMo answered with its internal-error reply (its LLM call failed).
        LLMTimeout: the rail did not finish within ``LLM_TIMEOUT``.
    """
    import asyncio

    from nemoguardrails.exceptions import LLMCallException
    from nemoguardrails.rails.llm.options import RailStatus, RailType

    rails = _nemo_rails(settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY)
    messages = [{"role": "user", "content": question}]
    if stage == "output":
        messages.append({"role": "assistant", "content": answer})
    rail_type = RailType.INPUT if stage == "input" else RailType.OUTPUT
    try:
        async with asyncio.timeout(settings.LLM_TIMEOUT):
            result = await rails.check_async(messages, rail_types=[rail_type])
    except TimeoutError as exc:
        raise LLMTimeout("The guardrail check did not finish in time.") from exc
    except LLMCallException as exc:  # check_async raises where generate() would reply NEMO_INTERNAL_ERROR
        raise LLMUnavailable("The guardrail model failed (NeMo Guardrails could not call the LLM).") from exc
    return nemo_verdict(
        status=str(result.status.value), content=result.content, rail=result.rail, blocked=RailStatus.BLOCKED.value
    )


def nemo_verdict(*, status: str, content: str, rail: str | None, blocked: str = "blocked") -> tuple[bool, str]:
    """Interpret a NeMo ``RailsResult``; its internal-error reply is an error, never a verdict.

    Args:
        status: the result's status value (``passed``, ``modified``, ``blocked``, ...).
        content: the result's text, checked for NeMo's internal-error reply.
        rail: the rail that blocked, if any.
        blocked: the status value that means blocked (``RailStatus.BLOCKED.value``).

    Returns:
        ``(allowed, detail)``: ``(False, "nemo:<rail>")`` when blocked, ``(True, "passed")`` when passed or modified.

    Raises:
        LLMUnavailable: the content is NeMo's internal-error reply (its LLM call failed).
        LLMBadResponse: a status that is neither blocked, passed nor modified.
    """
    if NEMO_INTERNAL_ERROR in (content or ""):
        raise LLMUnavailable("The guardrail model failed (NeMo Guardrails internal error).")
    if status == blocked:
        return False, f"nemo:{rail or 'blocked'}"
    if status not in ("passed", "modified"):
        raise LLMBadResponse(f"Unexpected guardrail status {status!r}.")
    return True, "passed"
