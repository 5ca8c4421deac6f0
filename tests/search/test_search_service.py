"""The search service on the real embedding server and vector store: permissions, filters, ranking, pagination."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta

import pytest
from django.utils import timezone

from chat.services.retrieval import passages_retrieve
from docintel.errors import DocumentNotFound, InvalidInput, NotFound
from docintel.models import User
from documents.models import Document
from search.services import SearchFilters, search_run
from tests.chat.test_retrieval_permissions import FINANCE_CANARIES, LEGAL_CANARIES, hunting_queries, passages
from tests.factories import make_document
from tests.support import index_document

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run(**kwargs):
    return asyncio.run(search_run(**kwargs))


@pytest.fixture
def two_groups(search_stack, finance, legal):
    fin = make_document(title="Finance notes", groups=[finance], language="en")
    leg = make_document(title="Legal notes", groups=[legal], language="en")
    index_document(fin, passages("Finance", FINANCE_CANARIES), pages=list(range(1, 21)))
    index_document(leg, passages("Legal", LEGAL_CANARIES), pages=list(range(1, 21)))
    return fin, leg


def test_a_reader_never_sees_a_hit_from_another_groups_document(two_groups, reader, legal, caplog):
    legal_reader = User.objects.create_user("legal@example.com", "pw-legal-1")
    legal_reader.groups.add(legal)
    fin, leg = two_groups
    other_group = {fin.pk: legal.pk, leg.pk: fin.access_groups.get().pk}
    cases = [(reader, q, fin, leg, LEGAL_CANARIES) for q in hunting_queries(LEGAL_CANARIES)[::2]]
    cases += [(legal_reader, q, leg, fin, FINANCE_CANARIES) for q in hunting_queries(FINANCE_CANARIES)[::2]]
    assert len(cases) >= 100

    async def hunt():
        leaks, own_hits = [], 0
        for user, query, own, other, forbidden in cases:
            # the other group's id as a filter, and a page size that takes every result
            for filters in (SearchFilters(), SearchFilters(group_id=other_group[own.pk])):
                page = await search_run(user=user, text=query, filters=filters, page_size=50)
                seen = {h.document_id for h in page.hits} | {d.document_id for d in page.documents}
                own_hits += own.pk in seen
                blob = repr([(h.text, h.snippet, h.source_url, h.document_title) for h in page.hits])
                if seen - {own.pk} or any(c in blob for c in forbidden):
                    leaks.append((query, seen))
            with pytest.raises(DocumentNotFound):  # the other document as a filter: not found, not empty
                await search_run(user=user, text=query, filters=SearchFilters(document_id=other.pk))
        return leaks, own_hits

    with caplog.at_level(logging.DEBUG):
        leaks, own_hits = asyncio.run(hunt())
    assert leaks == []
    # the filter restricts, it does not empty the results: unfiltered, nearly every hunt finds the reader's own
    # document (not all: the other group's code word alone matches no word of it and is not close in meaning)
    assert own_hits >= 0.9 * len(cases)
    assert not any(c in caplog.text for c in LEGAL_CANARIES + FINANCE_CANARIES)  # queries are not logged


def test_a_user_without_groups_gets_nothing_and_never_queries_the_vector_store(two_groups, settings):
    nobody = User.objects.create_user("nobody@example.com", "pw-nobody-1")
    settings.QDRANT_URL = "http://127.0.0.1:9"  # a query would fail: default deny answers before any search
    settings.EMBEDDING_BASE_URL = "http://127.0.0.1:9/v1"
    page = run(user=nobody, text="ZEBRAQUILL")
    assert page.count == 0 and page.hits == [] and page.documents == []


def test_librarian_finds_both_groups(two_groups, librarian):
    page = run(user=librarian, text="internal code word budget", page_size=50)
    assert {d.document_id for d in page.documents} == {two_groups[0].pk, two_groups[1].pk}


def test_greek_query_with_and_without_accents_finds_and_marks_the_same_passage(laws, reader):
    greek, chunks, _, _ = laws
    results = [run(user=reader, text=q) for q in ("Επιτροπή Ελέγχου", "επιτροπη ελεγχου", "ΕΠΙΤΡΟΠΗΣ ΕΛΕΓΧΟΥ")]
    tops = [r.hits[0] for r in results]
    assert {t.chunk_id for t in tops} == {chunks[1].pk}
    assert {tuple(t.text[s:e] for s, e in t.highlights) for t in tops} == {("Επιτροπή Ελέγχου", "επιτροπή")}
    top = tops[0]
    assert (top.page, top.location, top.document_title, top.language) == (1, "p. 1", "Νόμος 4706/2020", "el")
    assert top.source_url == (
        f"/documents/{greek.pk}/source/?chunk={chunks[1].pk}&quote=%CE%95%CF%80%CE%B9%CF%84%CF%81%CE%BF%CF%80"
        "%CE%AE+%CE%95%CE%BB%CE%AD%CE%B3%CF%87%CE%BF%CF%85"
    )  # the quote is the passage's own text ("Επιτροπή Ελέγχου"), which the source view highlights
    assert "<mark>Επιτροπή Ελέγχου</mark>" in str(top.snippet_html)


def test_english_query_in_any_case_finds_and_marks_the_same_passage(laws, reader):
    _, _, _, chunks = laws
    tops = [
        run(user=reader, text=q, filters=SearchFilters(language="en")).hits[0]
        for q in ("Audit Committee", "AUDIT COMMITTEES")
    ]
    assert {t.chunk_id for t in tops} == {chunks[1].pk}
    assert {tuple(t.text[s:e] for s, e in t.highlights) for t in tops} == {("Audit Committee", "committee")}


def test_ranking_is_the_answering_retrieval(laws, reader, settings):
    settings.SEARCH_CANDIDATES = settings.DOCINTEL_RETRIEVAL_CANDIDATES  # the same depth: the same fused order
    settings.SEARCH_MIN_DENSE_SCORE = 0.0  # keep every hit, as retrieval does
    for query in ("η γενική συνέλευση εκλέγει", "board of directors approves", "εταιρική διακυβέρνηση"):
        retrieved = asyncio.run(passages_retrieve(user=reader, text=query, top_k=8))
        page = run(user=reader, text=query, page_size=8)
        assert [h.chunk_id for h in page.hits] == [p.chunk_id for p in retrieved.passages]
        assert [round(h.score, 6) for h in page.hits] == [round(p.score, 6) for p in retrieved.passages]


def test_filters_narrow_a_reader_of_several_groups_inside_their_groups(laws, roles, legal):
    """A reader of two groups: the permission filter is any of them (should), the narrowing a must beside it."""
    from django.contrib.auth.models import Group

    from docintel.roles import READER
    from documents.services import vectorstore

    greek, _, english, _ = laws
    audit = Group.objects.create(name="audit")
    minutes = make_document(title="Πρακτικά επιτροπής ελέγχου", groups=[audit], language="el")
    index_document(minutes, ["Η επιτροπή ελέγχου συνεδρίασε και ενέκρινε τον έλεγχο (audit committee minutes)."])
    both = User.objects.create_user("two-groups@example.com", "pw-two-groups-1")
    both.groups.add(roles[READER], legal, audit)
    assert vectorstore.permission_filter(group_ids=[legal.pk, audit.pk]).should  # the shape under test

    def docs(**filters):
        return {d.document_id for d in run(user=both, text="επιτροπή ελέγχου audit committee", page_size=50,
                                              filters=SearchFilters(**filters)).documents}  # fmt: skip

    assert docs() == {english.pk, minutes.pk}  # never the finance-only Greek law
    assert docs(language="el") == {minutes.pk} and docs(language="en") == {english.pk}
    assert docs(group_id=legal.pk) == {english.pk} and docs(group_id=audit.pk) == {minutes.pk}
    with pytest.raises(DocumentNotFound):  # the finance-only law as a filter: not found, as for any stranger
        docs(document_id=greek.pk)


def test_filters_language_document_group_and_upload_date(laws, reader, librarian, finance, legal):
    greek, _, english, _ = laws

    def docs(user=reader, **filters):
        return {d.document_id for d in run(user=user, text="επιτροπή ελέγχου audit committee", page_size=50,
                                              filters=SearchFilters(**filters)).documents}  # fmt: skip

    assert docs() == {greek.pk, english.pk}
    assert docs(language="el") == {greek.pk} and docs(language="en") == {english.pk}
    assert docs(language="mixed") == set()
    assert docs(document_id=english.pk) == {english.pk}
    assert docs(group_id=finance.pk) == {greek.pk, english.pk}
    assert docs(group_id=legal.pk) == set()  # not one of the reader's groups: no hits
    assert docs(user=librarian, group_id=legal.pk) == {english.pk}  # a librarian filters by any group
    Document.objects.filter(pk=greek.pk).update(created_at=timezone.now() - timedelta(days=30))
    today = timezone.localdate()
    assert docs(uploaded_from=today) == {english.pk}
    assert docs(uploaded_to=today - timedelta(days=1)) == {greek.pk}
    assert docs(uploaded_from=today - timedelta(days=31), uploaded_to=today - timedelta(days=29)) == {greek.pk}
    assert docs(uploaded_from=date(2000, 1, 1), uploaded_to=date(2000, 1, 2)) == set()
    assert docs(language="en", uploaded_to=today - timedelta(days=1)) == set()  # filters combine


def test_pagination_counts_and_pages(laws, reader, settings):
    settings.SEARCH_MIN_DENSE_SCORE = 0.0
    first = run(user=reader, text="άρθρο article", page_size=3)
    assert first.count == 8 and first.num_pages == 3 and first.has_next and not first.has_previous
    second = run(user=reader, text="άρθρο article", page=2, page_size=3)
    last = run(user=reader, text="άρθρο article", page=3, page_size=3)
    ids = [h.chunk_id for p in (first, second, last) for h in p.hits]
    assert len(ids) == 8 == len(set(ids)) and last.hits and not last.has_next
    assert sum(d.hits for d in first.documents) == 8  # the documents cover every result, not only the page
    with pytest.raises(NotFound):
        run(user=reader, text="άρθρο article", page=4, page_size=3)
    assert run(user=reader, text="ZZZQQQXXX unknownword", page=1).page == 1  # an empty result has a page 1


def test_irrelevant_hits_are_dropped(laws, reader):
    page = run(user=reader, text="λιμάνι Πειραιά πλοία")  # not in the documents, in any form
    assert all(h.dense_score is not None and h.dense_score >= 0.8 for h in page.hits)
    assert all(h.highlights == [] for h in page.hits)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "   "}, InvalidInput),
        ({"text": "x" * 501}, InvalidInput),
        ({"text": "x", "page": 0}, InvalidInput),
        ({"text": "x", "page_size": 51}, InvalidInput),
        ({"text": "x", "filters": SearchFilters(language="de")}, InvalidInput),
        ({"text": "x", "filters": SearchFilters(uploaded_from=date(2026, 2, 1), uploaded_to=date(2026, 1, 1))},
         InvalidInput),
        ({"text": "x", "filters": SearchFilters(document_id=10**12)}, DocumentNotFound),
    ],
)  # fmt: skip
def test_bad_input_is_a_coded_error(laws, reader, kwargs, error):
    with pytest.raises(error):
        run(user=reader, **kwargs)
