"""Sentences of the retrieved passages ranked against the question, and the extractive (quoted) answer.

The same ranking feeds two things: the sentences the prompt keeps when the time budget is tight (the best passage's
best sentence first, never dropped), and the answer a reader gets when generation cannot deliver — the best
sentences themselves, quoted verbatim with their citation chips, marked as quotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat.events import Citation
from chat.services.answering.overlap import matched, script_language, sentences_split, term_weights, terms
from chat.services.retrieval import RetrievedPassage

RANK_PRIOR = 0.35  # the retriever's order still counts: the best passage's sentences get a head start
# Share of the question's (weighted) terms a quote must carry to answer it. Measured on the answer benchmark's XQuAD
# questions (benchmarks/answer_quality.py): the best sentence for questions about articles not ingested carried at
# most 0.15 (Greek) of the terms, for answerable ones at least 0.30.
MIN_COVERAGE = 0.25
MIN_SHARED_TERMS = 2  # distinct question terms the quote must carry (fewer when the question has fewer)
MAX_QUOTES = 2
MAX_QUOTE_CHARS = 600

LABEL = {
    "en": "Quoted from the sources:",
    "el": "Αυτούσιο απόσπασμα από τις πηγές:",
}


@dataclass
class RankedSentence:
    """One sentence of a retrieved passage with its match to the question."""

    passage: int  # index into the retrieved passages (0 = best)
    index: int  # position in the passage
    text: str
    score: float
    coverage: float  # weighted share of the question's terms it carries
    language: str | None


@dataclass
class Ranking:
    """Every sentence of the passages, and the question's terms they were ranked by."""

    question_terms: list[str]
    by_passage: list[list[RankedSentence]] = field(default_factory=list)

    def best(self) -> list[RankedSentence]:
        """All sentences, best first."""
        flat = [s for sentences in self.by_passage for s in sentences]
        return sorted(flat, key=lambda s: (-s.score, s.passage, s.index))


def sentences_rank(*, question: str, passages: list[RetrievedPassage]) -> Ranking:
    """Score each sentence of ``passages`` by the question terms it carries, weighted by rarity, plus a rank prior.

    Args:
        question: the (standalone) question.
        passages: the retrieved passages, best first (the rank prior favours the first ones).

    Returns:
        The ranking, sentences grouped by passage in reading order.
    """
    q_terms = terms(question)
    split = [sentences_split(p.text) for p in passages]
    sentence_terms = [[set(terms(s)) for s in sentences] for sentences in split]
    weights = term_weights(q_terms, [t for group in sentence_terms for t in group])
    total = sum(weights.values()) or 1.0
    ranking = Ranking(question_terms=q_terms)
    for p_index, sentences in enumerate(split):
        group: list[RankedSentence] = []
        for s_index, sentence in enumerate(sentences):
            hit = matched(q_terms, sentence_terms[p_index][s_index])
            coverage = sum(weights[t] for t in hit) / total
            score = coverage + (RANK_PRIOR / (1 + p_index) if hit else 0.0)
            group.append(
                RankedSentence(
                    passage=p_index, index=s_index, text=sentence, score=score, coverage=coverage,
                    language=script_language(sentence),
                )
            )  # fmt: skip
        ranking.by_passage.append(group)
    return ranking


@dataclass
class Extract:
    """The quoted answer: its text with ``[n]`` markers, the citations, and what was picked."""

    text: str
    citations: list[Citation]
    quotes: list[RankedSentence]
    coverage: float

    def provenance(self) -> dict[str, object]:
        """What was quoted, as ``Response.decision["extract"]`` stores it: coverage, each quote's passage and score."""
        return {
            "coverage": round(self.coverage, 3),
            "quotes": [
                {"passage": q.passage + 1, "sentence": q.index, "score": round(q.score, 3)} for q in self.quotes
            ],
        }


def extract_build(*, ranking: Ranking, passages: list[RetrievedPassage], language: str) -> Extract | None:
    """The best one or two sentences as a quoted answer, or None when no sentence answers the question.

    Sentences in the question's language are preferred when the sources have them. A second quote is added only
    when it carries question terms the first lacks.

    Args:
        ranking: the question's sentence ranking over ``passages``.
        passages: the retrieved passages (citations are resolved against them).
        language: the question's language (``el``/``en``): the label's and preferred quotes' language.

    Returns:
        The extract, or None (the caller answers "the documents do not say").
    """
    from chat.services.answering.citations import citation_build

    ranked = [s for s in ranking.best() if s.coverage > 0]
    if not ranked:
        return None
    same_language = [s for s in ranked if s.language == language]
    pool = same_language if same_language and same_language[0].coverage >= MIN_COVERAGE else ranked
    first = pool[0]
    first_terms = matched(ranking.question_terms, terms(first.text))
    # one shared word is a coincidence ("technical" for "Pharmacy Technician" in an IT handbook), two are a topic
    if first.coverage < MIN_COVERAGE or len(first_terms) < min(MIN_SHARED_TERMS, len(ranking.question_terms)):
        return None
    quotes = [first]
    for candidate in pool[1:]:
        if len(quotes) >= MAX_QUOTES or sum(len(q.text) for q in quotes) + len(candidate.text) > MAX_QUOTE_CHARS:
            break
        if matched(ranking.question_terms, terms(candidate.text)) - first_terms:
            quotes.append(candidate)
    quotes.sort(key=lambda s: (s.passage, s.index))
    numbers: list[int] = []
    lines = []
    for quote in quotes:
        number = quote.passage + 1
        if number not in numbers:
            numbers.append(number)
        lines.append(f"«{quote.text}» [{number}]")
    citations = [
        citation_build(
            passages[n - 1], number=n, quote=" ".join(q.text for q in quotes if q.passage == n - 1)[:MAX_QUOTE_CHARS]
        )
        for n in numbers
    ]
    text = LABEL[language if language in LABEL else "en"] + "\n\n" + "\n\n".join(lines)
    return Extract(text=text, citations=citations, quotes=quotes, coverage=first.coverage)
