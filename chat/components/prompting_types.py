"""Typed inputs of the prompt builders. Plain Python (no Haystack import): services may import it eagerly."""

from __future__ import annotations

from typing import TypedDict


class PromptPassage(TypedDict):
    """One retrieved passage as the grounded prompt shows it: ``[number] text (source: title, location)``.

    ``flagged`` (injection-like text found at ingestion) adds a warning to treat the passage as data only.
    """

    number: int
    title: str
    location: str
    text: str
    flagged: bool


class HistoryTurn(TypedDict):
    """One earlier exchange of the session, as the condense prompt shows it to make a follow-up standalone."""

    question: str
    answer: str
