"""Ask questions through the real chat path (:func:`chat.services.answering.answer_stream`).

What a reader would have seen is kept: the streamed text, the final answer and its citations, the stored Response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

CHANNEL = "eval"


@dataclass
class Asked:
    """One question's outcome on the chat path."""

    question: str
    status: str  # completed, no_answer, blocked, failed, cancelled, or the error code when nothing was stored
    text: str = ""
    streamed: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    response_id: int | None = None
    error_code: str = ""

    @property
    def visible(self) -> str:
        """Everything the page showed: the streamed tokens and the final answer."""
        return f"{self.streamed}\n{self.text}"


async def _ask(user: Any, text: str) -> Asked:
    """Consume the whole stream (never abandon it: an abandoned stream is recorded as cancelled)."""
    from chat.services.answering import answer_stream

    streamed: list[str] = []
    result = Asked(question=text, status="no_event")
    async for event in answer_stream(user=user, text=text, session=None, channel=CHANNEL):
        if event["type"] == "token":
            streamed.append(event["text"])
        elif event["type"] == "answer":
            result = Asked(
                question=text,
                status=event["status"],
                text=event["text"],
                citations=[dict(c) for c in event["citations"]],
                response_id=event["response_id"],
            )
        else:
            result = Asked(
                question=text,
                status="blocked" if event["code"] == "guardrail_blocked" else "failed",
                response_id=event.get("response_id"),
                error_code=event["code"],
            )
    result.streamed = "".join(streamed)
    return result


def questions_ask(
    *, user: Any, texts: Sequence[str], progress: Callable[[int, int], None] | None = None
) -> list[Asked]:
    """Ask ``texts`` one after the other as ``user`` (one event loop: the pipelines are warmed once).

    Must be called from synchronous code (a management command, a test); the answers are persisted as usual,
    with channel ``eval``.

    Args:
        user: the reader to ask as (their access groups decide what is retrieved).
        texts: the questions, asked in order, each as a one-off question (no session, no history).
        progress: called with (questions done, total) after each answer.

    Returns:
        One :class:`Asked` per text, in order.
    """

    async def run_all() -> list[Asked]:
        out = []
        for i, text in enumerate(texts, start=1):
            out.append(await _ask(user, text))
            if progress is not None:
                progress(i, len(texts))
        return out

    return asyncio.run(run_all())
