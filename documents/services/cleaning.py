"""Clean text before chunking: page furniture out of the body, words hyphenated across line ends joined.

Page furniture: Docling's layout model labels running headers, footers and page numbers ``PAGE_HEADER`` /
``PAGE_FOOTER`` and puts them in the furniture layer; DocIntel's model-free layout stage does not, so
:func:`document_clean` finds them itself: short text blocks in the top or bottom band of a page that repeat (digits
aside) on several pages, or that are a bare page number. They are moved to the furniture layer (the chunker reads
the body only) and returned as metadata per page, so chunks never carry them but the admin and citations can.

Hyphenation: ``δια- τάξεις`` (a line break Docling turned into a space), with ASCII ``-``, U+2010, U+2011,
U+2212 (minus, used by some Greek PDFs) or U+00AD (soft hyphen), becomes ``διατάξεις`` when a lower-case letter
follows; soft hyphens are removed everywhere; a suspended hyphen before a conjunction ("pre- and post-war",
"προ- και μεταπολεμικός") is kept. A word split across two blocks (end of a column) is joined too.
Only the text changes: items keep their pages and boxes, so chunk anchors stay where they were.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from documents.services.textnorm import normalize_for_search

if TYPE_CHECKING:
    from docling_core.types.doc.document import DoclingDocument

BAND = 0.1  # top / bottom share of the page height where running headers and footers sit
MAX_FURNITURE_CHARS = 160
MIN_REPEAT_PAGES = 3
HYPHENS = "-\u2010\u2011\u2212\u00ad"
_KEEP_AFTER_HYPHEN = frozenset(
    {"and", "or", "nor", "to", "but", "und", "oder", "et", "ou", "και", "ή", "έως", "εως", "ως", "μέχρι", "κι"}
)
_LETTER = r"[^\W\d_]"
_LINE_END_HYPHEN = re.compile(rf"({_LETTER})[{HYPHENS}][ \t\r\n]+({_LETTER}+)")
_SOFT = re.compile(r"\u00ad\s*")
_END_HYPHEN = re.compile(rf"{_LETTER}[{HYPHENS}]$")
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—\s]*#[-–—\s]*|(?:page|p|σελ|σελιδα|σ)\.?\s*#(?:\s*(?:/|of|απο|από)\s*#)?|#\s*(?:/|of|απο)\s*#)$"
)


@dataclass
class CleanReport:
    """What :func:`document_clean` changed."""

    furniture: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # page -> {"header": [...], ...}
    furniture_items: int = 0
    hyphens_joined: int = 0

    def page_furniture(self, first: int | None, last: int | None) -> dict[str, list[str]]:
        """The headers and footers of pages ``first``..``last`` (distinct, in order).

        Args:
            first: The first page (``None``: no pages, nothing returned).
            last: The last page (``None``: ``first`` alone).

        Returns:
            ``{"header": [...], "footer": [...]}`` with the kinds found on those pages only.
        """
        out: dict[str, list[str]] = {}
        if first is None:
            return out
        for page in range(first, (last or first) + 1):
            for kind, texts in self.furniture.get(page, {}).items():
                bucket = out.setdefault(kind, [])
                bucket.extend(t for t in texts if t not in bucket)
        return out

    def running(self, limit: int = 20) -> list[str]:
        """Distinct furniture texts of the whole document (first ``limit``)."""
        seen: list[str] = []
        for page in sorted(self.furniture):
            for texts in self.furniture[page].values():
                for text in texts:
                    if text not in seen:
                        seen.append(text)
                        if len(seen) >= limit:
                            return seen
        return seen


def dehyphenate(text: str) -> tuple[str, int]:
    """Join words hyphenated across a line end.

    Returns:
        The text and the number of joins.
    """
    count = 0

    def join(match: re.Match[str]) -> str:
        nonlocal count
        word = match.group(2)
        if not word[0].islower() or word.casefold() in _KEEP_AFTER_HYPHEN:
            return match.group(0)
        count += 1
        return match.group(1) + word

    text = _LINE_END_HYPHEN.sub(join, text)
    soft = len(_SOFT.findall(text))
    return _SOFT.sub("", text), count + soft


def _key(text: str) -> str:
    return " ".join(_DIGITS.sub("#", normalize_for_search(text)).split())


def _band(item: Any, page_heights: dict[int, float]) -> tuple[int, str] | None:
    provs = getattr(item, "prov", None) or []
    if len(provs) != 1:
        return None
    prov = provs[0]
    height = page_heights.get(int(prov.page_no))
    if not height:
        return None
    box = prov.bbox.to_top_left_origin(page_height=height)
    if box.b <= height * BAND:
        return int(prov.page_no), "header"
    if box.t >= height * (1 - BAND):
        return int(prov.page_no), "footer"
    return None


def _furniture(document: DoclingDocument, report: CleanReport) -> None:
    from docling_core.types.doc.common.content_layer import ContentLayer
    from docling_core.types.doc.items.text import TextItem
    from docling_core.types.doc.labels import DocItemLabel

    page_heights = {int(no): float(page.size.height) for no, page in document.pages.items()}
    if len(page_heights) < 2:
        return
    candidates: list[tuple[Any, int, str, str]] = []
    pages_of: dict[tuple[str, str], set[int]] = defaultdict(set)
    for item in document.texts:
        label = getattr(item, "label", None)
        text = (getattr(item, "text", "") or "").strip()
        if label in (DocItemLabel.PAGE_HEADER, DocItemLabel.PAGE_FOOTER) and text:
            kind = "header" if label == DocItemLabel.PAGE_HEADER else "footer"
            for prov in getattr(item, "prov", None) or []:
                report.furniture.setdefault(int(prov.page_no), {}).setdefault(kind, []).append(text)
            continue
        if getattr(item, "content_layer", ContentLayer.BODY) != ContentLayer.BODY:
            continue
        if not text or len(text) > MAX_FURNITURE_CHARS:
            continue
        where = _band(item, page_heights)
        if where is None:
            continue
        page, kind = where
        key = _key(text)
        candidates.append((item, page, kind, key))
        pages_of[(kind, key)].add(page)
    threshold = min(MIN_REPEAT_PAGES, max(2, len(page_heights) // 2))
    for item, page, kind, key in candidates:
        if len(pages_of[(kind, key)]) < threshold and not _PAGE_NUMBER.match(key):
            continue
        item.content_layer = ContentLayer.FURNITURE
        if isinstance(item, TextItem) and item.label in (DocItemLabel.TEXT, DocItemLabel.PARAGRAPH):
            item.label = DocItemLabel.PAGE_HEADER if kind == "header" else DocItemLabel.PAGE_FOOTER
        report.furniture.setdefault(page, {}).setdefault(kind, []).append(item.text.strip())
        report.furniture_items += 1


def _body_texts(document: DoclingDocument) -> list[Any]:
    from docling_core.types.doc.common.content_layer import ContentLayer
    from docling_core.types.doc.items.text import TextItem

    return [
        item
        for item, _level in document.iterate_items()
        if isinstance(item, TextItem) and getattr(item, "content_layer", ContentLayer.BODY) == ContentLayer.BODY
    ]


def _hyphenation(document: DoclingDocument, report: CleanReport) -> None:
    from docling_core.types.doc.labels import DocItemLabel

    prose = (DocItemLabel.TEXT, DocItemLabel.PARAGRAPH, DocItemLabel.LIST_ITEM)
    items = _body_texts(document)
    for item in items:
        text, joined = dehyphenate(item.text)
        if joined:
            item.text = text
            report.hyphens_joined += joined
    # a word split between two blocks: "...δια-" | "τάξεις του νόμου..."
    for current, following in itertools.pairwise(items):
        if current.label not in prose or following.label not in prose:
            continue
        head = current.text.rstrip()
        if not _END_HYPHEN.search(head):
            continue
        rest = following.text.lstrip()
        first, _, remainder = rest.partition(" ")
        if not first or not first[0].islower() or first.casefold() in _KEEP_AFTER_HYPHEN:
            continue
        current.text = head[:-1] + first
        following.text = remainder
        report.hyphens_joined += 1


def document_clean(document: DoclingDocument, *, furniture: bool = True) -> CleanReport:
    """Move page furniture out of the body and join hyphenated words, in place (see the module docstring).

    Args:
        document: a converted document; its items keep their pages and boxes.
        furniture: look for running headers and footers (PDFs and scans; not slides, whose titles repeat).

    Returns:
        The furniture found per page and the counts of what changed.
    """
    report = CleanReport()
    if furniture:
        _furniture(document, report)
    _hyphenation(document, report)
    return report
