"""The server-rendered search page, in English and Greek: form, highlighted hits, links into the source view."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db]


def signed_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def test_the_page_needs_a_sign_in():
    response = Client().get("/search/", {"q": "audit"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        ("en", ["Search the documents", "Any language", "All documents", "Uploaded from"]),
        ("el", ["Αναζήτηση στα έγγραφα", "Οποιαδήποτε γλώσσα", "Όλα τα έγγραφα", "Μεταφόρτωση από"]),
    ],
)
def test_the_empty_page_shows_the_form_in_the_readers_language(reader, language, texts):
    response = signed_in(reader, language).get("/search/")
    assert response.status_code == 200
    html = response.content.decode()
    assert all(text in html for text in texts), texts
    assert "<script>" not in html.split("</head>")[1]  # CSP: no inline script
    assert 'style="' not in html


def test_the_header_of_the_chat_pages_links_to_search(reader):
    for language, label in (("en", "Search"), ("el", "Αναζήτηση")):
        html = signed_in(reader, language).get("/chat/").content.decode()
        assert re.search(rf'<a href="/search/" id="nav-search">{label}</a>', html), html


def test_filter_choices_are_only_what_the_reader_may_use(reader, legal, finance):
    from tests.factories import make_document

    mine = make_document(title="Finance memo", groups=[finance])
    make_document(title="Legal secret", groups=[legal])
    html = signed_in(reader).get("/search/").content.decode()
    assert "Finance memo" in html and "Legal secret" not in html
    assert f'<option value="{finance.pk}">Finance</option>' in html and ">Legal<" not in html
    response = signed_in(reader).get("/search/", {"q": "memo", "group": str(legal.pk)})
    assert response.status_code == 400  # not a choice of this reader: a form error, no search
    assert 'id="search-errors"' in response.content.decode()
    assert signed_in(reader).get("/search/", {"q": "memo", "document": str(mine.pk), "page": "x"}).status_code == 404


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "query", "summary"),
    [("el", "επιτροπη ελεγχου", "αποσπάσματα σε"), ("en", "επιτροπή ελέγχου", "passages found in")],
)
def test_greek_results_are_highlighted_and_open_the_source_view_at_the_passage(laws, reader, language, query, summary):
    _, chunks, _, _ = laws
    client = signed_in(reader, language)
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    assert summary in html
    # the passage holding the phrase, marked as written (the dense leg ranks accented and bare queries a little
    # differently, so it is not always the first hit)
    hit = re.search(rf'<li class="search-hit" data-chunk-id="{chunks[1].pk}".*?</li>', html, re.DOTALL)
    assert hit is not None
    assert "<mark>Επιτροπή Ελέγχου</mark>" in hit.group(0)
    href = re.search(r'class="hit-open" href="([^"]+)"', hit.group(0))
    assert href is not None
    source = client.get(href.group(1).replace("&amp;", "&"))
    assert source.status_code == 200
    page = source.content.decode()
    assert f'id="cited" tabindex="-1" data-chunk-id="{chunks[1].pk}"' in page
    assert '<strong class="quote" id="quote">Επιτροπή Ελέγχου</strong>' in page


@pytest.mark.slow
def test_pages_and_the_document_facet_keep_the_query(laws, reader, settings, monkeypatch):
    settings.SEARCH_MIN_DENSE_SCORE = 0.0
    monkeypatch.setattr("search.views.PAGE_SIZE", 3)
    client = signed_in(reader)
    html = client.get("/search/", {"q": "άρθρο article", "language": ""}).content.decode()
    assert 'id="next-page"' in html and "Page 1 of 1" not in html
    nxt = re.search(r'href="\?([^"]+)" rel="next"', html)
    assert nxt is not None and "q=%CE%AC%CF%81%CE%B8%CF%81%CE%BF+article" in nxt.group(1)
    second = client.get("/search/?" + nxt.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and 'rel="prev"' in second.content.decode()
    greek = laws[0]
    facet = re.search(rf'href="\?([^"]+)" data-document-id="{greek.pk}"', html)
    assert facet is not None
    only = client.get("/search/?" + facet.group(1).replace("&amp;", "&")).content.decode()
    assert set(re.findall(r'data-document-id="(\d+)"', only.split('class="search-documents"')[0])) == {str(greek.pk)}


@pytest.mark.slow
def test_a_dependency_down_shows_a_message_not_a_500(laws, reader, settings):
    settings.QDRANT_URL = "http://127.0.0.1:9"
    response = signed_in(reader, "el").get("/search/", {"q": "επιτροπή"})
    assert response.status_code == 503
    assert "Η αναζήτηση δεν είναι διαθέσιμη" in response.content.decode()
