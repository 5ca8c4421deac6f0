"""Judge-free metrics: gold passages, retrieval recall@k / MRR, citation correctness, answer spans, abstention.

Pure functions over plain data (texts and ids), so they are tested without servers. Text comparisons use the
search normalisation (case, accents, final sigma), which makes Greek and English spans comparable the same way.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from documents.services.textnorm import normalize_for_search

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
SHINGLE = 6


def normalized(text: str) -> str:
    """Lower-cased, accent-free words separated by single spaces."""
    return " ".join(_NON_WORD.sub(" ", normalize_for_search(text)).split())


def contains_span(text: str, span: str) -> bool:
    """Whether ``text`` contains ``span`` as whole words (after normalisation).

    Args:
        text: the answer or chunk to search.
        span: the gold answer; an empty one is never contained.

    Returns:
        True when the normalised span occurs in the normalised text on word boundaries.
    """
    needle = normalized(span)
    return bool(needle) and f" {needle} " in f" {normalized(text)} "


def _shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    words = normalized(text).split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def overlaps(chunk_text: str, paragraph: str) -> bool:
    """Whether a chunk carries text of ``paragraph`` (shares a run of six words with it).

    Args:
        chunk_text: the chunk's text.
        paragraph: the gold paragraph.

    Returns:
        True when the two share a run of six words (a text shorter than that counts as one run).
    """
    return bool(_shingles(chunk_text) & _shingles(paragraph))


def gold_chunk_ids(*, chunks: Iterable[tuple[int, str]], paragraph: str, answer: str) -> list[int]:
    """The chunks that hold the gold paragraph's answer.

    Chunking does not follow paragraphs: a gold chunk overlaps the gold paragraph and contains the answer span;
    when the span straddles a chunk boundary, every chunk overlapping the paragraph counts.

    Args:
        chunks: the article's chunks as ``(id, text)``.
        paragraph: the gold paragraph of the question.
        answer: the gold answer span.

    Returns:
        The ids of the gold chunks (empty when no chunk overlaps the paragraph).
    """
    candidates = [(cid, text) for cid, text in chunks if overlaps(text, paragraph)]
    with_span = [cid for cid, text in candidates if contains_span(text, answer)]
    return with_span or [cid for cid, _ in candidates]


@dataclass(frozen=True)
class Ranking:
    """A ranked list of retrieved chunk ids and the gold chunk ids of one question."""

    ranked: Sequence[int]
    gold: frozenset[int]

    def rank(self) -> int | None:
        """1-based rank of the first gold chunk, or None."""
        for position, cid in enumerate(self.ranked, start=1):
            if cid in self.gold:
                return position
        return None


def rank_metrics(rankings: Sequence[Ranking], *, ks: tuple[int, ...] = (1, 3, 5)) -> dict[str, float]:
    """recall@k for each k and MRR over the retrieved list (``mrr@<len>``), plus the question count.

    Args:
        rankings: one ranking per question.
        ks: the cut-offs to report recall at.

    Returns:
        ``{"recall@k": ..., "mrr@<depth>": ..., "mrr": ..., "questions": n}``, rounded to four places;
        only ``{"questions": 0}`` when there are no rankings.
    """
    n = len(rankings)
    if not n:
        return {"questions": 0}
    ranks = [r.rank() for r in rankings]
    depth = max((len(r.ranked) for r in rankings), default=0)
    out: dict[str, float] = {f"recall@{k}": round(sum(1 for x in ranks if x and x <= k) / n, 4) for k in ks}
    out[f"mrr@{depth}"] = round(sum(1.0 / x for x in ranks if x) / n, 4)
    out["mrr"] = out[f"mrr@{depth}"]
    out["questions"] = n
    return out


def citation_scores(cited_texts: Sequence[str], answer_span: str) -> tuple[float, bool] | None:
    """(share of cited chunks containing the gold span, whether at least one does); None when nothing is cited.

    Args:
        cited_texts: the texts of the chunks the answer cites.
        answer_span: the gold answer span.

    Returns:
        The citation precision and hit, or None for an answer without citations.
    """
    if not cited_texts:
        return None
    hits = [contains_span(text, answer_span) for text in cited_texts]
    return sum(hits) / len(hits), any(hits)


def mean(values: Iterable[float]) -> float | None:
    """The mean to four places, or None for no values (a metric not measured, not a zero)."""
    data = list(values)
    return round(statistics.fmean(data), 4) if data else None


def rate(flags: Iterable[bool]) -> float | None:
    """The share of true flags to four places, or None for no flags (nothing measured)."""
    data = list(flags)
    return round(sum(data) / len(data), 4) if data else None
