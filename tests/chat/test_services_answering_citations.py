"""Direct tests of ``citations_resolve``: which sentence of an answer keeps which citation, and why.

The contract (``chat.services.answering.citations``): a sentence keeps the passages it cites that hold at least
``SUPPORT_THRESHOLD`` of its content terms; one citing none, or only wrong ones, is given the passage that supports
it best; a sentence no passage supports is dropped, and an answer with no supported sentence is no answer (empty
text, no citation); numbers beyond the passages shown are never shown; the question words a sentence repeats must be
in its passage. Every case is written in English and in Greek (the same facts, so the same verdicts).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from chat.services.answering.citations import SUPPORT_THRESHOLD, citations_resolve
from chat.services.answering.overlap import terms
from chat.services.retrieval import RetrievedPassage


def passage(text: str, n: int) -> RetrievedPassage:
    return RetrievedPassage(
        chunk_id=100 + n, document_id=10 + n, document_title=f"Doc {n}", text=text, page=n, page_end=n + 1,
        heading=f"Section {n}", location=f"p. {n}", score=1.0 / n, dense_score=0.9, keyword_score=None, flagged=False,
    )  # fmt: skip


# Passage 1: when the reservoir was completed and what it holds. Passage 2: the dam's height and its engineer.
PASSAGES = {
    "en": [
        passage("The Kestrel reservoir was completed in 1962. It holds 48 million cubic metres of water.", 1),
        passage("The reservoir dam is 71 metres high and was designed by the engineer Maria Lindqvist.", 2),
    ],
    "el": [
        passage("Ο ταμιευτήρας Κέστρελ ολοκληρώθηκε το 1962. Χωράει 48 εκατομμύρια κυβικά μέτρα νερού.", 1),
        passage("Το φράγμα του ταμιευτήρα έχει ύψος 71 μέτρα και σχεδιάστηκε από τη μηχανικό Μαρία Λίντκβιστ.", 2),
    ],
}
SAY = {  # what an answer says, by fact
    "en": {
        "height": "The dam is 71 metres high",
        "completed": "The reservoir was completed in 1962",
        "both": "The reservoir was completed in 1962 and the dam is 71 metres high",
        "volume": "It holds 48 million cubic metres",
        "engineer": "The DAM was designed by the engineer Maria Lindqvist",
        "unrelated": "Athens is the capital of Greece",
        "empty": "It is",  # no content term: nothing to check
        "question": "How high is the Kestrel dam?",
        "pinned": "The hospital pharmacist is the engineer Maria Lindqvist",
        "pinned_question": "Who supervises the hospital pharmacist?",
    },
    "el": {
        "height": "Το φράγμα έχει ύψος 71 μέτρα",
        "completed": "Ο ταμιευτήρας ολοκληρώθηκε το 1962",
        "both": "Ο ταμιευτήρας ολοκληρώθηκε το 1962 και το φράγμα έχει ύψος 71 μέτρα",
        "volume": "Χωράει 48 εκατομμύρια κυβικά μέτρα",
        "engineer": "Το ΦΡΑΓΜΑ σχεδιάστηκε από τη μηχανικό Μαρία Λίντκβιστ",
        "unrelated": "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας",
        "empty": "Είναι αυτό",
        "question": "Πόσο ύψος έχει το φράγμα Κέστρελ;",
        "pinned": "Ο φαρμακοποιός του νοσοκομείου είναι η μηχανικός Μαρία Λίντκβιστ",
        "pinned_question": "Ποιος επιβλέπει τον φαρμακοποιό του νοσοκομείου;",
    },
}
LANGUAGES = pytest.mark.parametrize("language", ["en", "el"])


def resolve(language: str, answer: str, question: str = ""):
    return citations_resolve(answer=answer, passages=PASSAGES[language], question=question)


def kept(resolution) -> list[tuple[list[int], list[int]]]:
    return [(s.cited, s.kept) for s in resolution.sentences]


@LANGUAGES
def test_a_sentence_keeps_the_citation_of_the_passage_that_supports_it(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['height']} [2].")
    assert resolved.supported and resolved.text == f"{say['height']} [2]."
    assert kept(resolved) == [([2], [2])]
    # passage 1 holds one of the four terms (the reservoir's "metres" / «μέτρα»), passage 2 all four
    assert resolved.sentences[0].support == {1: 0.25, 2: 1.0}


@LANGUAGES
def test_a_wrong_citation_is_moved_to_the_passage_that_says_it(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['height']} [1].")
    assert resolved.text == f"{say['height']} [2]."  # passage 1 does not say it; passage 2 does
    assert kept(resolved) == [([1], [2])]
    assert [c["number"] for c in resolved.citations] == [2]


@LANGUAGES
def test_an_uncited_sentence_is_given_its_best_passage(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['completed']}.")
    assert resolved.text == f"{say['completed']} [1]." and kept(resolved) == [([], [1])]


@LANGUAGES
def test_of_several_citations_only_the_supporting_ones_stay_and_invented_numbers_go(language):
    say = SAY[language]
    one = resolve(language, f"{say['completed']} [1][2][9].")
    assert one.text == f"{say['completed']} [1]." and kept(one) == [([1, 2], [1])]  # [9]: only two passages shown
    both = resolve(language, f"{say['both']} [1, 2].")  # each passage holds enough of the sentence's terms
    assert both.text == f"{say['both']} [1][2]." and kept(both) == [([1, 2], [1, 2])]
    assert [c["number"] for c in both.citations] == [1, 2]
    twice = resolve(language, f"{say['height']} [2][2, 2].")
    assert twice.text == f"{say['height']} [2]." and kept(twice) == [([2], [2])]
    zero = resolve(language, f"{say['height']} [0][3].")
    assert zero.text == f"{say['height']} [2]." and kept(zero) == [([], [2])]


@LANGUAGES
def test_an_unsupported_sentence_is_dropped_and_the_rest_kept(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['height']} [2]. {say['unrelated']} [1].")
    assert resolved.text == f"{say['height']} [2]."
    assert [s.supported for s in resolved.sentences] == [True, False]
    assert [c["number"] for c in resolved.citations] == [2]  # nothing of passage 1 was used


@LANGUAGES
def test_an_answer_no_passage_supports_is_no_answer(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['unrelated']} [1]. {say['empty']}.")
    assert not resolved.supported and resolved.text == "" and resolved.citations == []
    assert resolve(language, f"{say['empty']}.").text == ""  # nothing to check is not an answer either


@LANGUAGES
def test_a_sentence_without_content_terms_rides_along_with_a_supported_answer(language):
    say = SAY[language]
    assert terms(say["empty"]) == []
    resolved = resolve(language, f"{say['empty']}: {say['height'][0].lower()}{say['height'][1:]} [2].")
    assert resolved.supported
    resolved = resolve(language, f"{say['empty']}. {say['height']} [2].")
    assert resolved.text == f"{say['empty']}. {say['height']} [2]."
    assert kept(resolved) == [([], []), ([2], [2])]


@LANGUAGES
def test_greek_and_english_terms_match_across_case_accents_and_inflection(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['engineer']} [2].")  # "DAM" / «ΦΡΑΓΜΑ»: case and accents folded
    assert resolved.text == f"{say['engineer']} [2]."
    # the passage has "engineer", "designed", "reservoir" / «μηχανικό», «σχεδιάστηκε», «ταμιευτήρα»
    inflected = {"en": "Engineers design reservoirs", "el": "Οι μηχανικοί σχεδίασαν ταμιευτήρες"}[language]
    assert len(terms(inflected)) == 3 and not set(terms(inflected)) & set(terms(PASSAGES[language][1].text))
    resolved = resolve(language, f"{inflected} [2].")
    assert resolved.sentences[0].support[2] == 1.0 and resolved.text == f"{inflected} [2]."


@LANGUAGES
def test_a_sentence_that_pins_the_questions_subject_on_an_unrelated_passage_is_not_supported(language):
    say = SAY[language]
    answer = f"{say['pinned']} [2]."
    without = resolve(language, answer)
    assert without.text == answer and without.sentences[0].support[2] == 0.6  # on its words alone: 3 of 5 terms
    pinned = resolve(language, answer, question=say["pinned_question"])
    assert not pinned.supported and pinned.citations == []  # the question's subject is not in passage 2
    echoed = resolve(language, f"{say['height']} [2].", question=say["question"])
    assert echoed.text == f"{say['height']} [2]."  # the question's words it repeats are in passage 2


def test_the_threshold_is_a_share_of_the_sentences_terms():
    held = [passage("alpha bravo charlie delta", 1)]
    assert SUPPORT_THRESHOLD == 0.5
    half = citations_resolve(answer="alpha bravo echo foxtrot [1].", passages=held)
    assert half.sentences[0].support == {1: 0.5} and half.text == "alpha bravo echo foxtrot [1]."
    under = citations_resolve(answer="alpha echo foxtrot golf [1].", passages=held)
    assert under.sentences[0].support == {1: 0.25} and not under.supported
    greek = [passage("άλφα βήτα γάμμα δέλτα", 1)]
    assert citations_resolve(answer="Άλφα βήτα έψιλον ζήτα [1].", passages=greek).supported
    assert not citations_resolve(answer="Άλφα έψιλον ζήτα ήτα [1].", passages=greek).supported


@LANGUAGES
def test_a_citation_quotes_the_passages_sentence_the_answer_used_and_links_to_it(language):
    say = SAY[language]
    source = PASSAGES[language][0]
    resolved = resolve(language, f"{say['volume']} [1].")
    [citation] = resolved.citations
    assert citation["quote"] == source.text.split(". ", 1)[1]  # the second sentence, not the first
    assert {k: citation[k] for k in ("number", "chunk_id", "document_id", "document_title", "page", "page_end")} == {
        "number": 1, "chunk_id": 101, "document_id": 11, "document_title": "Doc 1", "page": 1, "page_end": 2,
    }  # fmt: skip
    assert (citation["heading"], citation["location"], citation["score"]) == ("Section 1", "p. 1", 1.0)
    url = urlparse(citation["url"])
    assert url.path == "/documents/11/source/"
    assert parse_qs(url.query) == {"chunk": ["101"], "quote": [citation["quote"]]}


def test_citations_come_in_order_of_first_mention():
    say = SAY["el"]
    resolved = resolve("el", f"{say['height']} [2]. {say['completed']} [1]. {say['engineer']} [2].")
    assert [c["number"] for c in resolved.citations] == [2, 1]


@LANGUAGES
def test_a_quote_never_shows_a_credential_the_passage_holds(language):
    secret = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    text = {
        "en": f"The service account key is {secret} and it rotates every month.",
        "el": f"Το κλειδί του λογαριασμού υπηρεσίας είναι {secret} και αλλάζει κάθε μήνα.",
    }[language]
    answer = {"en": "The service account key rotates every month [1].", "el": "Το κλειδί αλλάζει κάθε μήνα [1]."}
    resolved = citations_resolve(answer=answer[language], passages=[passage(text, 1)])
    [citation] = resolved.citations
    assert secret not in citation["quote"] and secret not in citation["url"]
    assert "******" in citation["quote"]


@LANGUAGES
def test_the_provenance_records_every_sentence_verdict(language):
    say = SAY[language]
    resolved = resolve(language, f"{say['height']} [1]. {say['unrelated']} [2].")
    record = resolved.provenance()
    assert record["supported"] is True and record["threshold"] == SUPPORT_THRESHOLD
    assert [(s["cited"], s["kept"], s["best_support"]) for s in record["sentences"]] == [
        ([1], [2], 1.0),
        ([2], [], 0.0),
    ]
    assert record["sentences"][0]["text"] == f"{say['height']}."
