"""Greek-aware highlighting: the words of a passage that match the query, found on folded text, shown as written.

Matching is per word: each word of the passage is folded with :func:`documents.services.textnorm.normalize_for_search`
(case, accents, final sigma, look-alike letters) and compared with the query's folded content terms by
:func:`chat.services.answering.overlap.term_match` (the same inflection rule as the answer support check:
«ελέγχου» ~ «ελέγχος», "limit" ~ "limited"). The offsets are those of the original word, so the passage keeps its
accents inside the mark. Adjacent matched words (only white space between them) form one span: a phrase is one mark.

Pure Python, no heavy import.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chat.services.answering.overlap import term_match, terms
from documents.services.textnorm import normalize_for_search, search_tokens

# A word as written: letters, digits, combining marks (decomposed accents) and the symbols the folding maps to Greek
# letters (U+2206 Δ, U+2126 Ω, µ, ∏, ∑), so "∆ΙΑΧΕΙΡΙΣΗ" is one word, like its folded form.
_WORD = re.compile(r"[\w\u0300-\u036f\u2206\u2126\u00b5\u220f\u2211]+")
_TOKEN = re.compile(r"\w+")
_PHRASE_GAP = re.compile(r"[ \t\u00a0]*")
SNIPPET_CHARS = 320
SNIPPET_LEAD = 60


@dataclass(frozen=True)
class Fragment:
    """A piece of a snippet; ``marked`` pieces matched the query."""

    text: str
    marked: bool


def query_terms(text: str) -> list[str]:
    """The folded terms of a query that highlighting looks for.

    Its content terms (no stop words, three letters or more, numbers of two digits or more); a query of stop words
    only ("the", «και») looks for its words as they are.
    """
    return terms(text) or list(dict.fromkeys(t for t in search_tokens(text) if t != "_"))


@functools.lru_cache(maxsize=65_536)
def _folded_tokens(word: str) -> tuple[str, ...]:
    """The folded tokens of one written word (cached: passages repeat their words)."""
    return tuple(_TOKEN.findall(normalize_for_search(word)))


def _matches(token: str, wanted: Sequence[str]) -> bool:
    """Whether a folded token is one of ``wanted`` up to inflection."""
    return any(term_match(term, token) for term in wanted)


def text_matches(text: str, wanted: Sequence[str]) -> bool:
    """Whether some word of ``text`` matches one of the folded terms ``wanted`` (stops at the first match).

    Word by word, through the same per-word folding cache as :func:`highlight_spans`: folding whole passages
    costs milliseconds each, and a search checks up to ``SEARCH_MAX_RESULTS`` of them.

    Args:
        text: a passage as stored.
        wanted: folded query terms (:func:`query_terms`); none: no match.

    Returns:
        True at the first matching word.
    """
    if not wanted:
        return False
    seen: set[str] = set()
    for match in _WORD.finditer(text):
        word = match.group(0)
        if word in seen:
            continue
        seen.add(word)
        if any(_matches(token, wanted) for token in _folded_tokens(word)):
            return True
    return False


def highlight_spans(text: str, wanted: Sequence[str]) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets in ``text`` of the words (and runs of adjacent words) that match ``wanted``.

    Args:
        text: the passage as stored (accents, case and final sigma as written).
        wanted: folded query terms (:func:`query_terms`).

    Returns:
        Non-overlapping spans in order; ``text[start:end]`` is the original text of the match.
    """
    if not wanted:
        return []
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        if not any(_matches(token, wanted) for token in _folded_tokens(match.group(0))):
            continue
        start, end = match.span()
        if spans and _PHRASE_GAP.fullmatch(text, spans[-1][1], start):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _window(text: str, spans: Sequence[tuple[int, int]], size: int) -> tuple[int, int]:
    """The ``size``-character window of ``text`` holding the most spans, cut at white space."""
    if len(text) <= size:
        return 0, len(text)
    best_start, best_count = 0, -1
    for first, _ in spans or [(0, 0)]:
        start = max(0, min(first - SNIPPET_LEAD, len(text) - size))
        count = sum(1 for s, e in spans if s >= start and e <= start + size)
        if count > best_count:
            best_start, best_count = start, count
    start, end = best_start, min(len(text), best_start + size)
    if start > 0:
        space = text.find(" ", start, start + SNIPPET_LEAD)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(start, end - SNIPPET_LEAD), end)
        end = space if space > start else end
    return start, end


def snippet_fragments(text: str, spans: Iterable[tuple[int, int]], *, size: int = SNIPPET_CHARS) -> list[Fragment]:
    """A short excerpt of ``text`` around its densest run of matches, cut into plain and marked fragments.

    An ellipsis marks text left out at either end. Without matches (a passage found by meaning only) it is the
    beginning of the passage.

    Args:
        text: the passage as stored.
        spans: its match spans (:func:`highlight_spans`); those outside the excerpt are left out.
        size: the excerpt's length in characters, cut at white space.

    Returns:
        The fragments in reading order; ``marked`` ones are the matches.
    """
    ordered = sorted(spans)
    start, end = _window(text, ordered, size)
    out: list[Fragment] = []
    if start > 0:
        out.append(Fragment("… ", marked=False))
    at = start
    for s, e in ordered:
        if s < start or e > end:
            continue
        if s > at:
            out.append(Fragment(text[at:s], marked=False))
        out.append(Fragment(text[s:e], marked=True))
        at = e
    if end > at:
        out.append(Fragment(text[at:end], marked=False))
    if end < len(text):
        out.append(Fragment(" …", marked=False))
    return out
