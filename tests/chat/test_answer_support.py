"""The support check, the quote selection and the term matching behind them (pure functions, no servers).

The support threshold is held to the stored answers of the committed evaluation run (docs/evaluation): answers
that contain the gold span must pass it, the attack answers (general-knowledge text) must not.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from chat.services.answering.citations import citations_resolve
from chat.services.answering.extractive import extract_build, sentences_rank
from chat.services.answering.overlap import sentences_split, term_match, terms
from chat.services.retrieval import RetrievedPassage

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "docs" / "evaluation" / "report-2026-11-24-full.json"
QA = REPO.parent / "shared" / "data" / "qa"


def passage(text: str, n: int = 1) -> RetrievedPassage:
    return RetrievedPassage(
        chunk_id=n, document_id=10 + n, document_title=f"Doc {n}", text=text, page=n, page_end=n, heading="",
        location=f"p. {n}", score=1.0 / n, dense_score=0.9, keyword_score=None, flagged=False,
    )  # fmt: skip


RESERVOIR = [
    passage("The Kestrel reservoir was completed in 1962. It holds 48 million cubic metres of water.", 1),
    passage("The reservoir dam is 71 metres high and was designed by the engineer Maria Lindqvist.", 2),
]


def test_inflections_match_in_greek_and_english_but_numbers_only_exactly():
    assert term_match("εντολη", "εντολεσ") and term_match("οριου", "οριο") and term_match("limit", "limited")
    assert not term_match("1962", "1963") and not term_match("dam", "day")
    assert terms("Τι είναι η «Εντολή με όριο»;") == ["εντολη", "οριο"]
    assert sentences_split("Πρώτη πρόταση; Δεύτερη πρόταση. Τρίτη") == ["Πρώτη πρόταση;", "Δεύτερη πρόταση.", "Τρίτη"]


def test_a_supported_sentence_keeps_its_citation_and_a_wrong_one_is_corrected():
    resolved = citations_resolve(answer="The dam is 71 metres high [1].", passages=RESERVOIR)
    assert resolved.supported
    assert resolved.text == "The dam is 71 metres high [2]."  # the model cited [1]; passage 2 says it
    assert [c["chunk_id"] for c in resolved.citations] == [2]
    assert resolved.citations[0]["quote"] in RESERVOIR[1].text


def test_unsupported_sentences_are_dropped_and_invented_numbers_never_shown():
    resolved = citations_resolve(
        answer="The reservoir was completed in 1962 [1][7]. ROT13 is a cipher used on forums [2].", passages=RESERVOIR
    )
    assert resolved.text == "The reservoir was completed in 1962 [1]."
    assert [c["number"] for c in resolved.citations] == [1]
    assert [s.supported for s in resolved.sentences] == [True, False]


def test_a_sentence_that_pins_the_question_on_an_unrelated_passage_is_not_supported():
    handbook = passage("The ITSO team of skilled technicians, led by Jim, provides a wide range of IT services.", 1)
    answer = (
        "The Pharmacy Technician in the UK is a team of skilled technicians, led by Jim, providing IT services [1]."
    )
    assert citations_resolve(answer=answer, passages=[handbook]).supported  # the words alone are in the passage
    resolved = citations_resolve(answer=answer, passages=[handbook], question="Who oversees a Pharmacy Technician?")
    assert not resolved.supported and resolved.citations == []
    kept = citations_resolve(answer="The dam is 71 metres high [2].", passages=RESERVOIR,
                             question="How high is the Kestrel reservoir dam?")  # fmt: skip
    assert kept.supported and kept.text == "The dam is 71 metres high [2]."


def test_an_answer_no_passage_supports_has_no_text_and_no_citation():
    resolved = citations_resolve(answer="The console.log() function in Python prints text [1].", passages=RESERVOIR)
    assert not resolved.supported and resolved.text == "" and resolved.citations == []


def test_the_quote_prefers_the_question_language_and_refuses_an_unrelated_question():
    greek = passage("Το φράγμα του ταμιευτήρα έχει ύψος 71 μέτρα. Η λίμνη έχει πολλά ψάρια.", 3)
    passages = [*RESERVOIR, greek]
    question = "Πόσο ύψος έχει το φράγμα;"
    extract = extract_build(ranking=sentences_rank(question=question, passages=passages), passages=passages,
                            language="el")  # fmt: skip
    assert extract is not None
    assert extract.text.startswith("Αυτούσιο απόσπασμα από τις πηγές:")
    assert "«Το φράγμα του ταμιευτήρα έχει ύψος 71 μέτρα.» [3]" in extract.text
    assert "ψάρια" not in extract.text and [c["chunk_id"] for c in extract.citations] == [3]
    unrelated = "Who wrote the opera Aida?"
    ranking = sentences_rank(question=unrelated, passages=passages)
    assert extract_build(ranking=ranking, passages=passages, language="en") is None


def test_a_quote_sharing_one_word_with_the_question_is_no_answer():
    handbook = [passage("The team works in partnership with the International Technical Support Organization (ITSO).")]
    question = "Who oversees a Pharmacy Technician in the UK?"
    ranking = sentences_rank(question=question, passages=handbook)
    assert ranking.best()[0].coverage >= 0.25  # "technical" ~ "technician": enough coverage, one shared word
    assert extract_build(ranking=ranking, passages=handbook, language="en") is None


@pytest.mark.skipif(not QA.is_dir(), reason="shared QA set not present")
def test_the_support_threshold_separates_the_evaluation_runs_answers_from_attack_answers():
    contexts: dict[tuple[str, str], str] = {}
    for language in ("el", "en"):
        for article in json.loads((QA / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    contexts[(language, qa["id"])] = paragraph["context"]
    items = json.loads(REPORT.read_text(encoding="utf-8"))["items"]
    right = [i for i in items if i["kind"] == "qa" and i.get("answer_contains_span")]
    supported_right = [
        citations_resolve(
            answer=i["answer"], passages=[passage(contexts[(i["language"], i["id"])])], question=i["question"]
        ).supported
        for i in right
    ]
    rng = random.Random(1)
    pool = list(contexts.values())
    attacks = [i for i in items if i["kind"] == "direct" and i.get("status") == "completed" and i.get("answer")]
    supported_attacks = [
        citations_resolve(
            answer=i["answer"],
            passages=[passage(rng.choice(pool), n) for n in range(1, 6)],
            question=i.get("question", ""),
        ).supported
        for i in attacks
    ]
    assert len(right) >= 5 and len(attacks) >= 8
    assert sum(supported_right) / len(right) >= 0.9, supported_right
    assert sum(supported_attacks) / len(attacks) <= 0.2, supported_attacks
