"""The answering service: a question in, a streamed, guarded, cited answer out (see :mod:`.stream` for the path).

Modules, in the order a question meets them: :mod:`.condense` (follow-ups), :mod:`.extractive` (sentences ranked
against the question, the quoted answer), :mod:`.budget` (measured LLM speed, tokens counted, the prompt plan),
:mod:`.generation` (streaming under deadlines), :mod:`.citations` (support check), :mod:`.persistence`.
"""

from __future__ import annotations

from chat.services.answering.citations import citations_resolve
from chat.services.answering.errors import llm_error
from chat.services.answering.generation import prompt_passages
from chat.services.answering.persistence import question_language
from chat.services.answering.stream import NO_ANSWER, AnswerResult, answer_replay, answer_stream, answer_sync

__all__ = [
    "NO_ANSWER",
    "AnswerResult",
    "answer_replay",
    "answer_stream",
    "answer_sync",
    "citations_resolve",
    "llm_error",
    "prompt_passages",
    "question_language",
]
