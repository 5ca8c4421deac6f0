"""Clean chunk text: running headers, footers and page numbers kept out (as metadata), hyphenation joined, anchors kept.

One Gazette-style PDF is made here (running header with the date "17 Αυγούστου 2007", page numbers, words broken
with U+2212 and U+00AD at line ends); the real Government Gazette of ``shared/data/greek`` is ingested too.
"""

from __future__ import annotations

import io
import re

import pytest

from docintel.context import ActorContext
from documents.models import Document
from documents.services import ingest
from documents.services.chunking import chunks_build
from documents.services.cleaning import dehyphenate, document_clean
from documents.services.lifecycle import document_upload
from documents.services.parsing import document_convert
from documents.services.textnorm import normalize_for_search
from tests.conftest import SHARED_DATA
from tests.documents.hostile import text_pdf

pytestmark = pytest.mark.django_db

GAZETTE = SHARED_DATA / "greek" / "gazette-law-4706-2020.pdf"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("οι δια- τάξεις του νόμου", "οι διατάξεις του νόμου"),
        ("οι δια\u2212 τάξεις του νόμου", "οι διατάξεις του νόμου"),  # minus sign, as some Greek PDFs set it
        ("οι δια\u00ad τάξεις και οι προ\u00adθεσμίες", "οι διατάξεις και οι προθεσμίες"),  # soft hyphens
        ("the legis- lation applies", "the legislation applies"),
        ("pre- and post-war", "pre- and post-war"),  # a suspended hyphen stays
        ("προ- και μεταπολεμικός", "προ- και μεταπολεμικός"),
        ("Greek- English glossary", "Greek- English glossary"),  # capital after the hyphen: not a broken word
        ("well-known words", "well-known words"),  # no line break, nothing to join
        ("άρθρο 5 - παράγραφος", "άρθρο 5 - παράγραφος"),
    ],
)
def test_dehyphenate(raw, clean):
    assert dehyphenate(raw)[0] == clean


HEADER_DATE = "17 Αυγούστου 2007"
BODY = [
    [
        "Άρθρο 1 Πεδίο εφαρμογής. Οι δια\u2212",
        "τάξεις του παρόντος εφαρμόζονται σε όλες",
        "τις ανώνυμες εταιρείες της πρώτης σελίδας.",
    ],
    [
        "Άρθρο 2 Ορισμοί. Οι προ\u00ad",
        "θεσμίες του νόμου αρχίζουν από τη δημοσίευση",
        "στην Εφημερίδα, όπως ορίζει η δεύτερη σελίδα.",
    ],
    ["Άρθρο 3 Έναρξη ισχύος. Η ισχύς του νόμου αρχίζει", "από τη δημοσίευσή του, όπως λέει η τρίτη σελίδα."],
    ["Άρθρο 4 Μεταβατικές διατάξεις για τις εκκρε-", "μείς υποθέσεις που αναφέρει η τέταρτη σελίδα."],
]
PAGE_MARK = ["πρώτης σελίδας", "δεύτερη σελίδα", "τρίτη σελίδα", "τέταρτη σελίδα"]


def _gazette_like() -> bytes:
    pages = []
    for number, lines in enumerate(BODY, start=1):
        page = [
            (56, 800, 9, "ΕΦΗΜΕΡΙΣ ΤΗΣ ΚΥΒΕΡΝΗΣΕΩΣ (ΤΕΥΧΟΣ ΠΡΩΤΟ)"),
            (290, 800, 9, str(2810 + number)),
            (440, 800, 9, HEADER_DATE),
            (290, 30, 9, f"- {number} -"),
        ]
        page += [(56, 700 - 16 * i, 11, line) for i, line in enumerate(lines)]
        pages.append(page)
    return text_pdf(pages)


def test_running_header_and_page_numbers_stay_out_of_chunk_text(librarian):
    data = _gazette_like()
    doc = document_upload(
        fileobj=io.BytesIO(data), filename="fek.pdf", size=len(data), ctx=ActorContext.for_user(librarian)
    )
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    chunks = list(doc.chunks.order_by("ordinal"))
    text = " ".join(c.text for c in chunks)
    assert HEADER_DATE not in text and "ΤΕΥΧΟΣ ΠΡΩΤΟ" not in text
    assert not re.search(r"\b281[1-4]\b", text) and "- 2 -" not in text
    assert "διατάξεις του παρόντος" in text and "προθεσμίες του νόμου" in text and "εκκρεμείς υποθέσεις" in text
    for page, mark in enumerate(PAGE_MARK, start=1):  # every sentence still cites its page
        holders = [c for c in chunks if mark in c.text]
        assert holders and all((c.page_start or 0) <= page <= (c.page_end or c.page_start or 0) for c in holders), mark
    furniture = chunks[0].meta["page_furniture"]
    assert HEADER_DATE in furniture["header"] and "- 1 -" in furniture["footer"]
    assert HEADER_DATE in doc.ingest_info["page_furniture"]["texts"]
    assert doc.ingest_info["page_furniture"]["items"] >= 3 * 4 and doc.ingest_info["hyphens_joined"] >= 1


def test_a_single_page_keeps_its_top_line():
    """One page gives nothing to compare: a first line is never taken for a running header."""
    data = text_pdf([[(56, 800, 9, "Σημείωμα"), (56, 700, 11, "Η συνεδρίαση ορίζεται για την Τρίτη.")]])
    import tempfile
    from pathlib import Path

    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        Path(handle.name).write_bytes(data)
        conversion = document_convert(path=Path(handle.name), mime_type="application/pdf")
    report = document_clean(conversion.document)
    assert report.furniture_items == 0
    assert "Σημείωμα" in " ".join(c.text for c in chunks_build(conversion.document))


def _page_texts() -> dict[int, str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(GAZETTE))
    try:
        out = {}
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            out[index + 1] = re.sub(r"\W+", "", normalize_for_search(textpage.get_text_range()))
            textpage.close()
            page.close()
        return out
    finally:
        pdf.close()


def test_real_gazette_running_header_is_metadata_and_anchors_hold(librarian):
    data = GAZETTE.read_bytes()
    doc = document_upload(
        fileobj=io.BytesIO(data), filename=GAZETTE.name, size=len(data), ctx=ActorContext.for_user(librarian)
    )
    assert ingest.document_ingest(document_id=doc.pk) is ingest.NextStep.EMBED
    doc.refresh_from_db()
    chunks = list(doc.chunks.order_by("ordinal"))
    assert doc.page_count == 40 and len(chunks) > 100
    for chunk in chunks:  # the running header "ΕΦΗΜΕΡΙ∆Α TΗΣ ΚΥΒΕΡΝΗΣΕΩΣ | 2970 | Τεύχος A' 136/17.07.2020"
        assert "136/17.07.2020" not in chunk.text, chunk.ordinal
        assert "ΕΦΗΜΕΡΙ∆Α TΗΣ" not in chunk.text, chunk.ordinal
        assert not re.match(r"^(29[6-9]\d|300\d)\b", chunk.text), chunk.ordinal
    assert "Τεύχος A' 136/17.07.2020" in doc.ingest_info["page_furniture"]["texts"]
    assert doc.ingest_info["page_furniture"]["items"] >= 3 * 39
    assert any("Τεύχος A' 136/17.07.2020" in c.meta.get("page_furniture", {}).get("header", []) for c in chunks)
    # anchors: each chunk's own text (after the overlap it repeats) is on its first cited page
    pages = _page_texts()
    on_page = 0
    for chunk in chunks:
        own = chunk.text[chunk.meta.get("overlap_chars", 0) :]
        probe = re.sub(r"\W+", "", normalize_for_search(own))[:24]
        if chunk.page_start and probe in pages[chunk.page_start]:
            on_page += 1
    assert on_page / len(chunks) >= 0.95, f"{on_page}/{len(chunks)} chunks start on their cited page"
    assert len({c.page_start for c in chunks}) >= 38
    assert Document.objects.count() == 1
