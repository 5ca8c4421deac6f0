"""Direct tests of ``chunks_build``: chunk boundaries, headings, pages, boxes, overlap and the token limit.

The Docling documents are built here item by item (headings, paragraphs, a table, each with its page and box), so
every expectation follows from the input; the parsing tests (``test_ingest_parsing.py``) run real files through it.
Each case runs on an English and a Greek document.
"""

from __future__ import annotations

import re

import pytest
from docling_core.types.doc.base import BoundingBox, CoordOrigin, Size
from docling_core.types.doc.common.reference import ProvenanceItem
from docling_core.types.doc.document import DoclingDocument
from docling_core.types.doc.items.table.table_data import TableCell, TableData
from docling_core.types.doc.labels import DocItemLabel

from documents.services.chunking import ChunkDraft, chunks_build, count_tokens

PAGE_HEIGHT = 842.0

# Two sections of short paragraphs (the first spans pages 1 and 2), one language per document.
SECTIONS = {
    "en": [
        ("Article 1. Purpose",
         [(1, "The law sets the rules of corporate governance."), (2, "It applies to listed companies.")]),
        ("Article 2. Definitions", [(3, "The Audit Committee is the committee of article 44.")]),
    ],
    "el": [
        ("Άρθρο 1. Σκοπός",
         [(1, "Ο νόμος θέτει τους κανόνες εταιρικής διακυβέρνησης."), (2, "Εφαρμόζεται στις εισηγμένες εταιρείες.")]),
        ("Άρθρο 2. Ορισμοί", [(3, "Η Επιτροπή Ελέγχου είναι η επιτροπή του άρθρου 44.")]),
    ],
}  # fmt: skip
# One long section: a paragraph is 20 (English) or 24 (Greek) tokens, so with its heading one fits the chunker's
# budget of 32 tokens (a size of 40 less the overlap of 8) and two do not.
LONG = {
    "en": "Paragraph {i}. The board approves the annual report and budget {i}.",
    "el": "Παράγραφος {i}. Το συμβούλιο εγκρίνει την ετήσια έκθεση και τον προϋπολογισμό {i}.",
}
RUN = {
    "en": "the board approves the annual report and the budget of the company",
    "el": "το συμβούλιο εγκρίνει την ετήσια έκθεση και τον προϋπολογισμό της εταιρείας",
}
TABLE = {
    "en": ("Members", [["Name", "Role", "Votes"], *[[f"Member{i}", "Director", str(i)] for i in range(10)]]),
    "el": ("Μέλη", [["Όνομα", "Ρόλος", "Ψήφοι"], *[[f"Μέλος{i}", "Σύμβουλος", str(i)] for i in range(10)]]),
}
# What docling-core (2.104) repeats at the top of each piece of a table cut in pieces, the header row being
# serialised into every cell ("Role = Director"): an empty Markdown row, not the header.
REPEATED_HEADER = "| - |"
LANGUAGES = pytest.mark.parametrize("language", ["en", "el"])


def _prov(page: int, top: float) -> ProvenanceItem:
    """A 14-point line at ``top`` (PDF coordinates: origin bottom-left), as Docling records it."""
    box = BoundingBox(l=72, t=top, r=520, b=top - 14, coord_origin=CoordOrigin.BOTTOMLEFT)
    return ProvenanceItem(page_no=page, bbox=box, charspan=(0, 1))


def _document(pages: int = 3) -> DoclingDocument:
    doc = DoclingDocument(name="test")
    for page in range(1, pages + 1):
        doc.add_page(page_no=page, size=Size(width=595, height=PAGE_HEIGHT))
    return doc


def _sections(language: str) -> DoclingDocument:
    doc = _document()
    for heading, paragraphs in SECTIONS[language]:
        doc.add_heading(heading, level=1, prov=_prov(paragraphs[0][0], 800))
        for i, (page, text) in enumerate(paragraphs):
            doc.add_text(label=DocItemLabel.PARAGRAPH, text=text, prov=_prov(page, 700 - 40 * i))
    return doc


def _long_section(language: str, paragraphs: int = 6, *, then: str = "") -> DoclingDocument:
    doc = _document()
    heading = SECTIONS[language][0][0]
    doc.add_heading(heading, level=1, prov=_prov(1, 800))
    for i in range(paragraphs):
        doc.add_text(
            label=DocItemLabel.PARAGRAPH, text=LONG[language].format(i=i), prov=_prov(1 + i // 3, 700 - 60 * i)
        )
    if then:
        doc.add_heading(SECTIONS[language][1][0], level=1, prov=_prov(3, 500))
        doc.add_text(label=DocItemLabel.PARAGRAPH, text=then, prov=_prov(3, 460))
    return doc


def _table(language: str) -> DoclingDocument:
    doc = _document()
    heading, rows = TABLE[language]
    doc.add_heading(heading, level=1, prov=_prov(1, 800))
    cells = [
        TableCell(text=text, start_row_offset_idx=r, end_row_offset_idx=r + 1, start_col_offset_idx=c,
                  end_col_offset_idx=c + 1, column_header=r == 0)
        for r, row in enumerate(rows)
        for c, text in enumerate(row)
    ]  # fmt: skip
    doc.add_table(data=TableData(num_rows=len(rows), num_cols=3, table_cells=cells), prov=_prov(1, 700))
    return doc


def _overlap_prefix(chunk: ChunkDraft) -> str:
    return chunk.text[: chunk.meta["overlap_chars"] - 1] if chunk.meta["overlap_chars"] else ""


@LANGUAGES
def test_a_chunk_holds_one_section_with_its_heading_path_and_page_span(language):
    (first_heading, first), (second_heading, second) = SECTIONS[language]
    chunks = chunks_build(_sections(language), max_tokens=256, overlap=0)
    assert [c.heading_path for c in chunks] == [[first_heading], [second_heading]]  # never two sections in one
    assert chunks[0].text == "\n".join(text for _, text in first)  # small neighbours of a section merge
    assert chunks[1].text == second[0][1]
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 2), (3, 3)]
    assert all(c.kind == "text" and c.language == language for c in chunks)
    assert [c.token_count for c in chunks] == [count_tokens(c.text) for c in chunks]
    # what is embedded: the heading path, then the text
    assert chunks[1].embedding_text() == f"{second_heading}\n{second[0][1]}"


@LANGUAGES
def test_the_box_is_on_the_first_page_in_top_left_coordinates(language):
    chunks = chunks_build(_sections(language), max_tokens=256, overlap=0)
    # the first section's paragraphs: page 1 at top 700 (PDF origin bottom-left) and page 2; only page 1's box
    assert chunks[0].bbox == [72.0, PAGE_HEIGHT - 700, 520.0, PAGE_HEIGHT - 700 + 14]
    assert chunks[1].bbox == [72.0, PAGE_HEIGHT - 700, 520.0, PAGE_HEIGHT - 700 + 14]


@LANGUAGES
def test_a_long_section_is_cut_within_the_token_limit_and_each_cut_repeats_the_previous_tail(language):
    chunks = chunks_build(_long_section(language), max_tokens=40, overlap=8)
    assert len(chunks) == 6  # one paragraph per chunk: two would pass the limit
    assert all(c.token_count <= 40 and c.token_count == count_tokens(c.text) for c in chunks)
    assert chunks[0].meta["overlap_chars"] == 0 and chunks[0].text == LONG[language].format(i=0)
    for previous, chunk, i in zip(chunks[:-1], chunks[1:], range(1, 6), strict=True):
        prefix = _overlap_prefix(chunk)
        assert prefix and previous.text.endswith(prefix)  # the tail of the previous chunk ...
        assert 0 < count_tokens(prefix) <= 8  # ... at most the overlap
        assert chunk.text == f"{prefix} {LONG[language].format(i=i)}"  # ... then this chunk's own text
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 1)] * 3 + [(2, 2)] * 3


@LANGUAGES
def test_a_paragraph_longer_than_the_limit_is_split_and_its_pieces_with_overlap_stay_within_it(language):
    words = " ".join([RUN[language]] * 8)  # one paragraph of about 130 tokens, no sentence end to cut at
    doc = _document()
    doc.add_heading(SECTIONS[language][0][0], level=1, prov=_prov(1, 800))
    doc.add_text(label=DocItemLabel.PARAGRAPH, text=words, prov=_prov(1, 700))
    chunks = chunks_build(doc, max_tokens=40, overlap=8)
    assert len(chunks) >= 5
    assert all(c.token_count <= 40 for c in chunks)  # the overlap is inside the budget, not on top of it
    assert all(c.meta["overlap_chars"] for c in chunks[1:])
    own = " ".join(c.text[c.meta["overlap_chars"] :] for c in chunks)
    assert own.split() == words.split()  # the pieces, less their overlap, are the paragraph in order


@LANGUAGES
def test_no_overlap_crosses_into_another_section(language):
    own = SECTIONS[language][1][1][0][1]
    chunks = chunks_build(_long_section(language, paragraphs=2, then=own), max_tokens=40, overlap=8)
    assert chunks[1].meta["overlap_chars"] > 0  # the same section: overlapped
    assert chunks[-1].heading_path == [SECTIONS[language][1][0]]
    assert chunks[-1].text == own and chunks[-1].meta["overlap_chars"] == 0


@LANGUAGES
def test_overlap_and_size_default_to_the_settings(settings, language):
    settings.DOCINTEL_CHUNK_TOKENS = 40
    settings.DOCINTEL_CHUNK_OVERLAP_TOKENS = 0
    chunks = chunks_build(_long_section(language))
    assert len(chunks) == 6 and all(c.meta["overlap_chars"] == 0 for c in chunks)
    assert [c.text for c in chunks] == [LONG[language].format(i=i) for i in range(6)]
    settings.DOCINTEL_CHUNK_OVERLAP_TOKENS = 8
    assert all(c.meta["overlap_chars"] for c in chunks_build(_long_section(language))[1:])


@LANGUAGES
def test_a_long_table_is_cut_into_table_chunks_within_the_limit_without_overlap(language):
    heading, rows = TABLE[language]
    chunks = chunks_build(_table(language), max_tokens=40, overlap=8)
    assert len(chunks) > 1 and all(c.kind == "table" and c.heading_path == [heading] for c in chunks)
    assert all(c.token_count <= 40 and c.meta["overlap_chars"] == 0 for c in chunks)  # tables never overlap
    # Read back in order (the line Docling repeats at the top of each piece taken out), the pieces hold every row,
    # each value with its column header; a cut can fall inside a row (the serialised table is split by tokens).
    whole = re.sub(r"\s+", " ", " ".join(c.text.replace(REPEATED_HEADER, " ") for c in chunks))
    for name, role, votes in rows[1:]:
        assert f"{name}, {rows[0][1]} = {role}." in whole and f"{name}, {rows[0][2]} = {votes}" in whole
    assert all(c.page_start == 1 and c.bbox == [72.0, PAGE_HEIGHT - 700, 520.0, PAGE_HEIGHT - 686] for c in chunks)


def test_the_language_is_that_of_the_chunks_own_text():
    doc = _long_section("en", paragraphs=1)
    doc.add_text(label=DocItemLabel.PARAGRAPH, text="Ο νόμος ισχύει από σήμερα.", prov=_prov(1, 600))
    english, greek = chunks_build(doc, max_tokens=40, overlap=8)
    assert greek.text == "report and budget 0. Ο νόμος ισχύει από σήμερα."  # an English tail ...
    assert (english.language, greek.language) == ("en", "el")  # ... does not make the Greek chunk mixed
    doc = _document()
    doc.add_heading("Mixed", level=1, prov=_prov(1, 800))
    doc.add_text(label=DocItemLabel.PARAGRAPH, text="The Audit Committee (Επιτροπή Ελέγχου) meets.", prov=_prov(1, 700))
    doc.add_heading("Αριθμοί", level=1, prov=_prov(2, 800))
    doc.add_text(label=DocItemLabel.PARAGRAPH, text="2020 - 2024", prov=_prov(2, 700))
    assert [(c.text, c.language) for c in chunks_build(doc, max_tokens=256, overlap=0)] == [
        ("The Audit Committee (Επιτροπή Ελέγχου) meets.", "mixed"),
        ("2020 - 2024", ""),  # no letters: no language
    ]


def test_text_is_nfkc_normalised_and_empty_items_make_no_chunk():
    doc = _document()
    doc.add_heading("\u1fbbρθρο 1", level=1, prov=_prov(1, 800))  # U+1FBB: alpha with oxia, NFKC gives U+0386
    doc.add_text(label=DocItemLabel.PARAGRAPH, text="   ", prov=_prov(1, 760))
    doc.add_text(label=DocItemLabel.PARAGRAPH, text="The \ufb01rst ﬁle: Ἀθήνα \u1fbbρειος Πάγος.", prov=_prov(1, 700))
    [chunk] = chunks_build(doc, max_tokens=256, overlap=0)
    assert chunk.heading_path == ["\u0386ρθρο 1"]
    assert chunk.text == "The first file: Ἀθήνα \u0386ρειος Πάγος."


def test_a_document_without_text_has_no_chunks():
    assert chunks_build(_document(), max_tokens=256, overlap=0) == []
    doc = _document()
    doc.add_text(label=DocItemLabel.PARAGRAPH, text=" \n ", prov=_prov(1, 700))
    assert chunks_build(doc, max_tokens=256, overlap=0) == []
