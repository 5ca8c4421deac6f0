"""Typed inputs of the prompt builders. Plain Python (no Haystack import): services may import it eagerly."""

from __future__ import annotations

from typing import TypedDict


class PromptPassage(TypedDict):
    number: int
    title: str
    location: str
    text: str
    flagged: bool


class HistoryTurn(TypedDict):
    question: str
    answer: str
