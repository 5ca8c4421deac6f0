"""Sentences, content terms and their overlap: the one measure behind prompt sizing, quotes and the support check.

Pure Python (no heavy import). Terms are the Greek-aware folded words of :mod:`documents.services.textnorm` (case,
accents, final sigma) without stop words; two terms match when one is an inflection of the other (a shared prefix
of at least three letters that leaves at most two letters over on the shorter word: «εντολή» ~ «εντολές»,
«ορίου» ~ «όριο», "limit" ~ "limited"). That is enough for Greek's and English's suffix inflection without a
stemmer, and it is the same rule for questions, passages and answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from documents.services.textnorm import search_tokens

_SENTENCE_END = re.compile(r"(?<=[.!?;;·])\s+(?=\S)|\n+")
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_LATIN = re.compile(r"[A-Za-z]")
_CITATION = re.compile(r"\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")
MAX_SENTENCE_CHARS = 400

# Folded (lower case, no accents, final sigma as σ): compare with search_tokens() output.
_STOPWORDS_TEXT = """
    the and for are was were has have had not but with from this that these those which what who whom whose when
    where why how does did done can could would should will shall may might must its it's into onto than then there
    their they them his her him she you your yours our ours out over under about above after before also any all
    each both such only own same some very just more most other being been been one two three per via upon while
    answer question documents document passage passages say says said according
    και του της των την τον τους τις στο στη στην στον στα στις στους στων απο για με σε να θα δεν μη μην ειναι ηταν
    εχει εχουν ειχε ειχαν που ποιο ποια ποιοσ ποιοι ποιεσ ποιου ποιων ποιον τι πωσ ποτε που ποσοι ποσα ποσεσ ποσο
    ποσοσ γιατι οτι αυτο αυτη αυτοσ αυτα αυτεσ αυτοι αυτου αυτησ αυτων ενα ενασ μια μιασ ενοσ κατα μετα προσ χωρισ
    οπωσ οταν εαν αν ωσ ειτε ουτε αλλα ομωσ επι υπο δια παρα μεσα εξω πανω κατω πιο πολυ λιγο ολα ολοι ολεσ καθε
    αλλο αλλη αλλοι οποιο οποια οποιοσ οποιου οποιων οποιεσ οποτε ηδη ακομα επισησ
"""
STOPWORDS = frozenset(search_tokens(_STOPWORDS_TEXT))  # folded like the terms they are compared with


def sentences_split(text: str) -> list[str]:
    """The sentences of ``text`` (Greek «;» and «·» end sentences too); over-long ones are cut at clause marks."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(text):
        part = piece.strip()
        while len(part) > MAX_SENTENCE_CHARS:
            cut = max(part.rfind(mark, 0, MAX_SENTENCE_CHARS) for mark in (", ", ": ", " - ", " – "))
            cut = cut + 1 if cut > MAX_SENTENCE_CHARS // 3 else part.rfind(" ", 0, MAX_SENTENCE_CHARS)
            if cut <= 0:
                cut = MAX_SENTENCE_CHARS
            out.append(part[:cut].strip())
            part = part[cut:].strip()
        if part:
            out.append(part)
    return out


def terms(text: str) -> list[str]:
    """The distinct content terms of ``text`` in order of first use (folded, three letters or more, no stop words)."""
    seen: dict[str, None] = {}
    for token in search_tokens(_CITATION.sub(" ", text)):
        if (len(token) >= 3 and token not in STOPWORDS and not token.isdigit()) or (
            token.isdigit() and len(token) >= 2
        ):
            seen.setdefault(token, None)
    return list(seen)


def term_match(a: str, b: str) -> bool:
    """Whether two folded terms are the same word up to its inflection (see the module docstring).

    Args:
        a: a folded term.
        b: another; the rule is symmetric.

    Returns:
        True for equal terms, or words of four letters or more sharing a prefix as the module docstring says;
        numbers match only themselves.
    """
    if a == b:
        return True
    if a.isdigit() or b.isdigit() or min(len(a), len(b)) < 4:
        return False
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 3 and common >= min(len(a), len(b)) - 2


def matched(wanted: Iterable[str], present: Iterable[str]) -> set[str]:
    """The terms of ``wanted`` that some term of ``present`` matches.

    Args:
        wanted: folded terms looked for (a question's, a sentence's).
        present: folded terms of the text searched.

    Returns:
        The subset of ``wanted`` found, each up to inflection (:func:`term_match`).
    """
    pool = set(present)
    out: set[str] = set()
    for term in wanted:
        if term in pool or any(term_match(term, other) for other in pool):
            out.add(term)
    return out


def term_weights(question_terms: list[str], candidates: list[set[str]]) -> dict[str, float]:
    """Inverse document frequency of each question term over the candidate sentences (rare terms weigh more).

    Args:
        question_terms: the question's folded terms.
        candidates: the term sets of the sentences ranked.

    Returns:
        A weight per question term, above 0.5 (a term every sentence holds still counts).
    """
    total = max(1, len(candidates))
    weights: dict[str, float] = {}
    for term in question_terms:
        df = sum(1 for c in candidates if matched([term], c))
        weights[term] = math.log(1.0 + total / (1.0 + df)) + 0.5
    return weights


def script_language(text: str) -> str | None:
    """``el`` or ``en`` by the letters of ``text`` (Greek against Latin), None without letters."""
    greek = len(_GREEK.findall(text))
    latin = len(_LATIN.findall(text))
    if not greek and not latin:
        return None
    return "el" if greek >= latin else "en"


def letters(text: str) -> int:
    """How many Greek or Latin letters ``text`` has (enough of them make its language decidable)."""
    return len(_GREEK.findall(text)) + len(_LATIN.findall(text))
