"""Citations checked against what they cite: no citation on text its passage does not support.

Each sentence of a generated answer keeps a citation only to a passage that supports it, and an answer no passage
supports is not shown as an answer at all.

Support is measured as the share of a sentence's content terms found in the passage (Greek-aware term matching of
:mod:`chat.services.answering.overlap`). The threshold was chosen on the evaluation run's stored answers
(README, "Answers the passages support").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from chat.events import Citation
from chat.services.answering.overlap import matched, sentences_split, terms
from chat.services.retrieval import RetrievedPassage
from guards import secrets_redact

SUPPORT_THRESHOLD = 0.5  # share of a sentence's content terms the passage must hold
# A sentence that repeats the question's words must find (most of) them in its passage: otherwise it pins the
# question's subject on a passage about something else ("The Pharmacy Technician in the UK is a team of skilled
# technicians ..." over an IT handbook, measured in benchmarks/answer_quality.py).
ECHO_MAX_MISSING = 0.5
_MARKERS = re.compile(r"\s*\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:])")


def citation_build(passage: RetrievedPassage, *, number: int, quote: str) -> Citation:
    """The citation chip of one passage: where it is, a verbatim quote (credentials redacted), the source link.

    Args:
        passage: the cited passage.
        number: its ``[n]`` in the answer's text.
        quote: the sentence(s) of the passage that back the answer; redacted, then cut to 300 characters.

    Returns:
        The citation, its ``url`` the source view at the chunk with the quote to mark.
    """
    quote = secrets_redact(quote)
    query = urlencode({"chunk": passage.chunk_id, "quote": quote[:300]})
    return {
        "number": number,
        "chunk_id": passage.chunk_id,
        "document_id": passage.document_id,
        "document_title": passage.document_title,
        "page": passage.page,
        "page_end": passage.page_end,
        "heading": passage.heading,
        "location": passage.location,
        "quote": quote[:300],
        "score": round(passage.score, 6),
        "url": f"/documents/{passage.document_id}/source/?{query}",
    }


def _best_quote(passage: RetrievedPassage, wanted: list[str]) -> str:
    """The passage's sentence that carries the most terms of ``wanted`` (the chip's quote); empty for no sentence."""
    sentences = sentences_split(passage.text)
    if not sentences:
        return ""
    return max(sentences, key=lambda s: len(matched(wanted, terms(s))))


@dataclass
class SentenceSupport:
    """How one sentence of the answer is supported."""

    text: str
    cited: list[int]  # what the model cited (valid numbers only)
    support: dict[int, float]  # passage number -> share of the sentence's terms it holds
    kept: list[int] = field(default_factory=list)  # the citations it keeps (supporting passages)

    @property
    def supported(self) -> bool:
        """Whether some passage supports the sentence (it keeps at least one citation)."""
        return bool(self.kept)

    def as_dict(self) -> dict[str, object]:
        """The sentence in the stored support check: text (200 characters), cited, kept, best share of support."""
        best = max(self.support.values(), default=0.0)
        return {"text": self.text[:200], "cited": self.cited, "kept": self.kept, "best_support": round(best, 3)}


@dataclass
class Resolution:
    """The answer with verified citations, or the verdict that the passages do not support it."""

    text: str
    citations: list[Citation]
    sentences: list[SentenceSupport]

    @property
    def supported(self) -> bool:
        """Whether any sentence is supported; an answer with none is replaced by the quoted (extractive) answer."""
        return any(s.supported for s in self.sentences)

    def provenance(self) -> dict[str, object]:
        """The support check as ``Response.decision["support"]`` stores it: verdict, threshold, every sentence."""
        return {
            "supported": self.supported,
            "threshold": SUPPORT_THRESHOLD,
            "sentences": [s.as_dict() for s in self.sentences],
        }


def _supports(wanted: list[str], echoed: list[str], passage_terms: list[str]) -> float:
    """Share of ``wanted`` the passage holds, or 0 when it lacks too many of the question words the sentence echoes.

    Args:
        wanted: the sentence's content terms (not empty).
        echoed: the question's terms the sentence repeats.
        passage_terms: the passage's content terms.

    Returns:
        The support share, 0 to 1.
    """
    if echoed and 1 - len(matched(echoed, passage_terms)) / len(echoed) >= ECHO_MAX_MISSING:
        return 0.0
    return len(matched(wanted, passage_terms)) / len(wanted)


def citations_resolve(*, answer: str, passages: list[RetrievedPassage], question: str = "") -> Resolution:
    """Check each sentence of ``answer`` against the passages and keep only supported text and citations.

    A sentence keeps the passages it cites that support it; one that cites none (or a wrong one) is attributed to
    the passage that supports it best, if any does. Sentences without content terms ("Yes.") ride along with a
    supported answer; sentences no passage supports are dropped. Citation numbers the model invented (beyond the
    passages it was shown) are never shown.

    Args:
        answer: the generated text (after the output guard), with ``[n]`` markers.
        passages: the passages the model was shown, numbered from 1.
        question: the question; the question words a sentence repeats must be in the passage that supports it.

    Returns:
        The verified answer (empty text when nothing is supported) and its citations in order of first mention.
    """
    resolved: list[SentenceSupport] = []
    out_parts: list[str] = []
    question_terms = terms(question)
    passage_terms = [terms(p.text) for p in passages]
    for sentence in sentences_split(answer):
        cited: list[int] = []
        for group in _MARKERS.findall(sentence):
            for part in group.split(","):
                n = int(part)
                if 1 <= n <= len(passages) and n not in cited:
                    cited.append(n)
        bare = _SPACE_BEFORE_PUNCT.sub(r"\1", _MARKERS.sub("", sentence)).strip()
        wanted = terms(bare)
        entry = SentenceSupport(text=bare, cited=cited, support={})
        resolved.append(entry)
        if not wanted:
            out_parts.append(bare)  # no claim to check ("Yes.")
            continue
        echoed = sorted(matched(question_terms, wanted))  # the question's words the sentence repeats
        for n in range(1, len(passages) + 1):
            entry.support[n] = _supports(wanted, echoed, passage_terms[n - 1])
        entry.kept = [n for n in cited if entry.support[n] >= SUPPORT_THRESHOLD]
        if not entry.kept:
            best = max(entry.support, key=lambda n: (entry.support[n], -n))
            if entry.support[best] >= SUPPORT_THRESHOLD:
                entry.kept = [best]
        if entry.kept:
            marks = "".join(f"[{n}]" for n in entry.kept)
            end = bare[-1] if bare and bare[-1] in ".!?;;" else ""
            out_parts.append(f"{bare[: len(bare) - len(end)].rstrip()} {marks}{end}")
    if not any(s.supported for s in resolved):
        return Resolution(text="", citations=[], sentences=resolved)
    numbers: list[int] = []
    for entry in resolved:
        numbers.extend(n for n in entry.kept if n not in numbers)
    citations = []
    for n in numbers:
        wanted = [t for s in resolved if n in s.kept for t in terms(s.text)]
        citations.append(citation_build(passages[n - 1], number=n, quote=_best_quote(passages[n - 1], wanted)))
    return Resolution(text=" ".join(p for p in out_parts if p).strip(), citations=citations, sentences=resolved)
