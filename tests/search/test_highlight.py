"""Greek-aware highlighting: matched on folded words, shown with the passage's own accents, phrases as one mark."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from search.services import SearchHit, highlight_spans, query_terms, snippet_fragments
from search.services.highlight import text_matches

GREEK = (
    "Άρθρο 2. Ορισμοί. Η «Επιτροπή Ελέγχου» της εταιρείας ορίζεται από τη γενική συνέλευση. "
    "Οι επιτροπές ελέγχου είναι ανεξάρτητες από τον ∆ΙΑΧΕΙΡΙΣΤΗ και τον πρoϋπολογισμό."
)
ENGLISH = "Article 2. The Audit Committee is appointed by the general meeting. Audit committees are independent."


def marked(text: str, query: str) -> list[str]:
    return [text[start:end] for start, end in highlight_spans(text, query_terms(query))]


@pytest.mark.parametrize(
    "query",
    ["επιτροπή ελέγχου", "επιτροπη ελεγχου", "ΕΠΙΤΡΟΠΗ ΕΛΕΓΧΟΥ", "Επιτροπής Ελέγχου", "η επιτροπη του ελεγχου"],
)
def test_a_greek_phrase_with_or_without_accents_marks_the_same_words_as_written(query):
    assert marked(GREEK, query) == ["Επιτροπή Ελέγχου", "επιτροπές ελέγχου"]


@pytest.mark.parametrize("query", ["audit committee", "AUDIT COMMITTEES", "the audit committee"])
def test_an_english_phrase_in_any_case_or_number_marks_the_same_words(query):
    assert marked(ENGLISH, query) == ["Audit Committee", "Audit committees"]


def test_final_sigma_lookalike_letters_and_symbols_match():
    assert marked(GREEK, "διαχειριστης") == ["∆ΙΑΧΕΙΡΙΣΤΗ"]  # U+2206 for Δ, final sigma in the query
    assert marked(GREEK, "ΠΡΟΫΠΟΛΟΓΙΣΜΟΣ") == ["πρoϋπολογισμό"]  # a Latin o inside the Greek word
    assert marked("Ο προϋπολογισμός εγκρίθηκε.", "προυπολογισμος") == ["προϋπολογισμός"]


def test_decomposed_accents_stay_inside_the_mark():
    text = "Η Επιτροπη\u0301 συνεδρίασε."  # the accent as a combining mark
    assert marked(text, "επιτροπή") == ["Επιτροπη\u0301"]


def test_stop_words_and_unrelated_words_are_not_marked():
    assert marked(ENGLISH, "the meeting of a committee") == ["Committee", "meeting", "committees"]
    assert marked(GREEK, "και το") == ["και"]  # a query of stop words only looks for them as they are
    assert marked(GREEK, "λιμάνι Πειραιά") == []


def test_words_apart_are_separate_marks_and_offsets_point_into_the_original():
    spans = highlight_spans(ENGLISH, query_terms("audit independent"))
    assert [ENGLISH[s:e] for s, e in spans] == ["Audit", "Audit", "independent"]
    assert all(0 <= s < e <= len(ENGLISH) for s, e in spans)


def test_text_matches_agrees_with_the_highlighter():
    assert text_matches(GREEK, query_terms("ΕΠΙΤΡΟΠΕΣ"))
    assert text_matches(ENGLISH, query_terms("committees"))
    assert not text_matches(ENGLISH, query_terms("reservoir dam"))
    assert not text_matches(GREEK, query_terms("λιμάνι"))
    assert not text_matches(GREEK, [])


def test_snippet_is_the_window_around_the_matches_with_ellipses():
    text = "αρχή " * 100 + "η Επιτροπή Ελέγχου συνεδριάζει " + "τέλος " * 100
    spans = highlight_spans(text, query_terms("επιτροπη ελεγχου"))
    fragments = snippet_fragments(text, spans, size=120)
    assert fragments[0].text == "… " and fragments[-1].text == " …"
    assert [f.text for f in fragments if f.marked] == ["Επιτροπή Ελέγχου"]
    assert len("".join(f.text for f in fragments)) <= 130
    assert not any(f.text.startswith("ρχή") for f in fragments)  # cut at white space, not inside a word


def test_snippet_without_matches_is_the_beginning_and_a_short_passage_is_whole():
    long = "word " * 200
    assert snippet_fragments(long, [], size=50)[0].text.startswith("word")
    short = snippet_fragments(ENGLISH, highlight_spans(ENGLISH, query_terms("audit")))
    assert "".join(f.text for f in short) == ENGLISH


def test_snippet_html_escapes_the_passage_and_marks_only_matches():
    text = 'Audit <script>alert("x")</script> & the <b>committee</b>'
    spans = highlight_spans(text, query_terms("audit committee"))
    hit = SearchHit(
        chunk_id=1, document_id=1, document_title="t", language="en", uploaded_at=datetime.now(tz=UTC), text=text,
        page=None, page_end=None, heading="", location="", score=1.0, dense_score=None, keyword_score=None,
        highlights=spans, snippet=snippet_fragments(text, spans),
    )  # fmt: skip
    html = str(hit.snippet_html)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html
    assert html.startswith("<mark>Audit</mark>") and "<mark>committee</mark>" in html
