"""Structure-following chunks sized in tokens, each knowing its pages, box and heading path.

Docling's ``HybridChunker`` does the structural work (sections, tables split by rows with the header repeated,
merging small neighbours) with a tokenizer that needs no model hub: :class:`ApproxTokenizer` counts
SentencePiece-like pieces (a word is one piece per 4 characters, punctuation one each), an upper-bound estimate
of what the e5 tokenizer produces. Consecutive chunks of the same section overlap by
``DOCINTEL_CHUNK_OVERLAP_TOKENS``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from documents.services.textnorm import nfkc

if TYPE_CHECKING:
    from docling_core.types.doc.document import DoclingDocument

_PIECES = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_LATIN = re.compile(r"[A-Za-z]")


def count_tokens(text: str) -> int:
    """Approximate model tokens of ``text`` (see module docstring)."""
    return sum(max(1, math.ceil(len(p) / 4)) for p in _PIECES.findall(text))


def detect_language(text: str) -> str:
    """``el``, ``en`` or ``mixed`` from the share of Greek and Latin letters (empty for no letters)."""
    greek = len(_GREEK.findall(text))
    latin = len(_LATIN.findall(text))
    total = greek + latin
    if total == 0:
        return ""
    if greek / total >= 0.8:
        return "el"
    if latin / total >= 0.8:
        return "en"
    return "mixed"


@dataclass
class ChunkDraft:
    """A chunk before it is saved."""

    text: str
    kind: str
    page_start: int | None
    page_end: int | None
    heading_path: list[str]
    bbox: list[float] | None
    token_count: int
    language: str
    meta: dict[str, Any] = field(default_factory=dict)

    def embedding_text(self) -> str:
        """What is embedded: the heading path gives the passage its context (see :func:`embedding_text`)."""
        return embedding_text(self.heading_path, self.text)


def embedding_text(heading_path: list[str], text: str) -> str:
    """What is embedded (dense) and keyword-encoded (sparse) for a chunk: its heading path, then its text.

    Args:
        heading_path: The chunk's headings, outermost first (joined with `` › ``, as ``Chunk.heading`` shows them).
        text: The chunk's text.

    Returns:
        The heading path, a line break and the text; the text alone when the chunk has no heading.
    """
    heading = " › ".join(str(h) for h in heading_path)
    return f"{heading}\n{text}" if heading else text


def _tokenizer(max_tokens: int) -> Any:
    from docling_core.transforms.chunker.tokenizer.base import BaseTokenizer

    class ApproxTokenizer(BaseTokenizer):
        limit: int

        def count_tokens(self, text: str) -> int:
            return count_tokens(text)

        def get_max_tokens(self) -> int:
            return self.limit

        def get_tokenizer(self) -> Any:
            return count_tokens  # semchunk accepts a token counter

    return ApproxTokenizer(limit=max_tokens)


def _location(items: list[Any], page_heights: dict[int, float]) -> tuple[int | None, int | None, list[float] | None]:
    pages: list[int] = []
    first_box: list[float] | None = None
    for item in items:
        for prov in getattr(item, "prov", None) or []:
            pages.append(int(prov.page_no))
            if first_box is None or prov.page_no == min(pages):
                height = page_heights.get(int(prov.page_no))
                box = prov.bbox.to_top_left_origin(page_height=height) if height else prov.bbox
                candidate = [round(box.l, 1), round(box.t, 1), round(box.r, 1), round(box.b, 1)]
                if first_box is None:
                    first_box = candidate
                elif prov.page_no == pages[0]:
                    first_box = [
                        min(first_box[0], candidate[0]),
                        min(first_box[1], candidate[1]),
                        max(first_box[2], candidate[2]),
                        max(first_box[3], candidate[3]),
                    ]
    if not pages:
        return None, None, None
    return min(pages), max(pages), first_box


def _tail(text: str, tokens: int) -> str:
    if tokens <= 0:
        return ""
    words = text.split()
    out: list[str] = []
    used = 0
    for word in reversed(words):
        used += count_tokens(word)
        if used > tokens:
            break
        out.append(word)
    return " ".join(reversed(out))


def chunks_build(
    document: DoclingDocument, *, max_tokens: int | None = None, overlap: int | None = None
) -> list[ChunkDraft]:
    """Cut a converted document into chunks that follow its structure.

    Args:
        document: Docling's document.
        max_tokens: the chunk size (default ``DOCINTEL_CHUNK_TOKENS``).
        overlap: tokens repeated from the previous chunk of the same section (default
            ``DOCINTEL_CHUNK_OVERLAP_TOKENS``).

    Returns:
        The chunks in reading order; empty when the document has no text.
    """
    from docling_core.transforms.chunker.hybrid_chunker import HybridChunker
    from docling_core.types.doc.labels import DocItemLabel

    size = max_tokens or settings.DOCINTEL_CHUNK_TOKENS
    overlap_tokens = settings.DOCINTEL_CHUNK_OVERLAP_TOKENS if overlap is None else overlap
    # room for the overlap inside the size budget
    chunker = HybridChunker(tokenizer=_tokenizer(max(32, size - overlap_tokens)), repeat_table_header=True)
    page_heights = {int(no): float(page.size.height) for no, page in document.pages.items()}
    drafts: list[ChunkDraft] = []
    previous: ChunkDraft | None = None
    for chunk in chunker.chunk(dl_doc=document):
        text = nfkc(chunk.text).strip()
        if not text:
            continue
        meta: Any = chunk.meta  # a DocMeta for HybridChunker's chunks
        items = list(meta.doc_items or [])
        is_table = any(getattr(i, "label", None) == DocItemLabel.TABLE for i in items)
        headings = [nfkc(h).strip() for h in (meta.headings or []) if h and h.strip()]
        page_start, page_end, bbox = _location(items, page_heights)
        if previous is not None and not is_table and previous.kind == "text" and previous.heading_path == headings:
            prefix = _tail(previous.text, overlap_tokens)
            overlapped = f"{prefix} {text}" if prefix else text
        else:
            prefix, overlapped = "", text
        draft = ChunkDraft(
            text=overlapped,
            kind="table" if is_table else "text",
            page_start=page_start,
            page_end=page_end,
            heading_path=headings,
            bbox=bbox,
            token_count=count_tokens(overlapped),
            language=detect_language(text),
            meta={"overlap_chars": len(prefix) + 1 if prefix else 0},
        )
        drafts.append(draft)
        previous = draft
    return drafts
