"""Greek-aware text normalisation and the sparse (keyword) encoding used for hybrid retrieval.

The same functions encode documents at ingestion and queries at answering time, so a query matches a passage
whatever the accents, case, final sigma or Latin look-alike letters either was typed with.
Pure Python: no heavy import, safe in the web process.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter

# Latin capitals that look like Greek ones; typed by mistake inside Greek words (e.g. "AΘHNA" with Latin A and H).
_LATIN_TO_GREEK = str.maketrans(
    {
        "A": "Α", "B": "Β", "E": "Ε", "Z": "Ζ", "H": "Η", "I": "Ι", "K": "Κ", "M": "Μ", "N": "Ν", "O": "Ο",
        "P": "Ρ", "T": "Τ", "Y": "Υ", "X": "Χ",
        "a": "α", "o": "ο", "i": "ι", "k": "κ", "v": "ν", "u": "υ", "x": "χ", "p": "ρ", "t": "τ", "e": "ε",
        "y": "γ", "n": "η",
    }
)  # fmt: skip
# Symbols that look like Greek letters (NFKC keeps them apart).
_LOOKALIKES = str.maketrans({"\u2206": "Δ", "\u2126": "Ω", "\u00b5": "μ", "\u220f": "Π", "\u2211": "Σ"})
_WORD = re.compile(r"\w+", re.UNICODE)
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_LATIN = re.compile(r"[A-Za-z]")

SPARSE_DIMENSION = 2**31 - 1
MAX_TOKEN_CHARS = 40


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _fix_mixed_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if _GREEK.search(word) and _LATIN.search(word):
        return word.translate(_LATIN_TO_GREEK)
    return word


def nfkc(text: str) -> str:
    """NFKC with Greek look-alike symbols mapped (µ micro sign -> μ): the form OCR and parser output is stored in."""
    return unicodedata.normalize("NFKC", text.translate(_LOOKALIKES))


def normalize_for_search(text: str) -> str:
    """Fold ``text`` into the form keyword search compares.

    NFKC, look-alike symbols to Greek (U+2206 -> Δ), Latin letters inside Greek words to Greek, casefold (final
    sigma becomes σ), tonos/dialytika and other diacritics stripped.

    Args:
        text: any text, a passage or a query.

    Returns:
        The folded text; whitespace is kept so words stay apart.
    """
    text = nfkc(text)
    text = _WORD.sub(_fix_mixed_word, text)
    text = text.casefold().replace("ς", "σ")
    return _strip_marks(text)


def search_tokens(text: str) -> list[str]:
    """The normalised words of ``text`` (the keyword index terms)."""
    return [t for t in _WORD.findall(normalize_for_search(text)) if len(t) <= MAX_TOKEN_CHARS and t != "_"]


def token_index(token: str) -> int:
    """Stable index of a term in the sparse vector (CRC32, the same in every process)."""
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


def sparse_encode(text: str) -> tuple[list[int], list[float]]:
    """Sparse keyword vector of ``text``: one dimension per distinct normalised term, value ``1 + ln(tf)``.

    The collection's sparse vector uses Qdrant's IDF modifier, so rare terms weigh more at query time.

    Returns:
        ``(indices, values)`` sorted by index, ready for ``qdrant_client.models.SparseVector``.
    """
    counts: Counter[int] = Counter(token_index(t) for t in search_tokens(text))
    indices = sorted(counts)
    return indices, [1.0 + math.log(counts[i]) for i in indices]
