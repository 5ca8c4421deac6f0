"""Encoding detection for plain text and e-mail bodies.

Unicode with or without a BOM first, then the Greek legacy encodings (Windows-1253, ISO-8859-7), then Western ones.
Pure Python, safe in the web process (upload sniffing).

Windows-1253 and ISO-8859-7 share the Greek letters except capital alpha with tonos (``Ά``: 0xA2 in Windows-1253,
0xB6 in ISO-8859-7) and Windows-1253's punctuation in 0x80-0x9F (control characters in ISO-8859-7), so the one
that yields more letters and no control characters wins.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
GREEK_ENCODINGS = ("cp1253", "iso8859_7")
WESTERN_ENCODINGS = ("cp1252", "latin-1")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
MAX_CONTROL_SHARE = 0.01
_WORD = re.compile(r"[^\W\d_]+")


def bom_encoding(data: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``data`` announces, if any."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def _controls(text: str) -> int:
    return sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS)


def _letters(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


def _greek_letters(text: str) -> int:
    return sum(1 for c in text if "\u0370" <= c <= "\u03ff" or "\u1f00" <= c <= "\u1fff")


def _reads_as_greek(text: str) -> bool:
    """Whether ``text`` has more all-Greek words than Latin words with a stray Greek letter.

    Western text read as Greek shows single Greek letters inside Latin words ("café" in Windows-1252 read as
    Windows-1253 is "cafι"); real Greek words are runs of Greek letters.
    """
    pure = mixed = 0
    for word in _WORD.findall(text):
        if any("\u0370" <= c <= "\u03ff" for c in word):
            if any(c.isascii() and c.isalpha() for c in word):
                mixed += 1
            else:
                pure += 1
    return pure > mixed


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _utf8_prefix(data: bytes) -> str | None:
    """UTF-8, allowing a multi-byte character cut at the very end (a sniffing window)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason in ("unexpected end of data", "invalid continuation byte"):
            return _strict(data[: exc.start], "utf-8")
        return None


def text_decode(data: bytes, *, partial: bool = False) -> tuple[str, str]:
    """Decode text of unknown encoding.

    Args:
        data: the bytes.
        partial: ``data`` is the head of a longer file (a character may be cut at its end).

    Returns:
        ``(text, encoding)``; the encoding is a Python codec name (``utf-8``, ``cp1253``, ``iso8859_7``, ...).
    """
    bom = bom_encoding(data)
    if bom is not None:
        body = data[: len(data) - len(data) % 4] if partial and bom.startswith("utf-32") else data
        if partial and bom.startswith("utf-16"):
            body = data[: len(data) - len(data) % 2]
        return body.decode(bom, errors="replace").lstrip("\ufeff"), bom.removesuffix("-sig")
    utf8 = _utf8_prefix(data) if partial else _strict(data, "utf-8")
    if utf8 is not None:
        return utf8, "utf-8"
    candidates: list[tuple[int, str, str]] = []
    for encoding in GREEK_ENCODINGS:
        text = _strict(data, encoding)
        if text is not None and _greek_letters(text) > 0:
            candidates.append((_letters(text) - 5 * _controls(text), encoding, text))
    if candidates:
        greek = max(candidates, key=lambda c: c[0])
        if _reads_as_greek(greek[2]):
            return greek[2], greek[1]
    for encoding in WESTERN_ENCODINGS:
        text = _strict(data, encoding)
        if text is not None:
            return text, encoding
    return data.decode("latin-1"), "latin-1"  # pragma: no cover - latin-1 decodes every byte


def looks_like_plain_text(head: bytes) -> bool:
    """Whether the head of a file reads as text in some encoding (no NUL bytes outside UTF-16/32, few controls)."""
    if not head:
        return False
    if b"\x00" in head and bom_encoding(head) not in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        return False
    text, _ = text_decode(head, partial=True)
    if not text.strip():
        return False
    return _controls(text) <= MAX_CONTROL_SHARE * len(text)
