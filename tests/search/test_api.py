"""``GET /api/v1/search``: JWT, strict parameters with coded errors, the response shape, pagination links."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from docintel.models import User

pytestmark = [pytest.mark.django_db]

URL = "/api/v1/search"


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def test_anonymous_is_refused_with_a_code():
    response = client_for(None).get(URL, {"q": "audit"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 501}, "q"),
        ({"q": "a", "page": "1.0"}, "page"),
        ({"q": "a", "page": "0"}, "page"),
        ({"q": "a", "page": "+1"}, "page"),
        ({"q": "a", "page": "²"}, "page"),
        ({"q": "a", "page": ""}, "page"),
        ({"q": "a", "page_size": "51"}, "page_size"),
        ({"q": "a", "document": "abc"}, "document"),
        ({"q": "a", "document": " 1"}, "document"),
        ({"q": "a", "document": "99999999999999999999"}, "document"),
        ({"q": "a", "group": "-1"}, "group"),
        ({"q": "a", "language": "de"}, "language"),
        ({"q": "a", "uploaded_from": "2026-13-01"}, "uploaded_from"),
        ({"q": "a", "uploaded_to": "yesterday"}, "uploaded_to"),
        ({"q": "a", "uploaded_to": "20260101"}, "uploaded_to"),
        ({"q": "a", "uploaded_to": "2026-1-1"}, "uploaded_to"),
        ({"q": "a", "uploaded_to": "2026-02-30"}, "uploaded_to"),
        ({"q": "a", "uploaded_from": "2026-02-01", "uploaded_to": "2026-01-01"}, "uploaded_from"),
        ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_parameters_answer_invalid_input_naming_the_field(reader, params, field):
    response = client_for(reader).get(URL, params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_input" and field in body["detail"]


@pytest.mark.slow
def test_greek_search_over_jwt_returns_ranked_highlighted_passages_with_source_links(laws, reader):
    greek, chunks, _, _ = laws
    response = client_for(reader).get(URL, {"q": "επιτροπη ελεγχου", "page_size": "2"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"] == "επιτροπη ελεγχου" and body["page"] == 1 and body["page_size"] == 2
    assert body["count"] >= 3 and body["num_pages"] >= 2 and body["previous"] is None
    assert body["next"].startswith("http://testserver/api/v1/search?") and "page=2" in body["next"]
    top = body["results"][0]
    assert top["chunk_id"] == chunks[1].pk and top["document_id"] == greek.pk
    assert [top["text"][h["start"] : h["end"]] for h in top["highlights"]] == ["Επιτροπή Ελέγχου", "επιτροπή"]
    assert "<mark>Επιτροπή Ελέγχου</mark>" in top["snippet_html"]
    assert top["source_url"].startswith(f"/documents/{greek.pk}/source/?chunk={chunks[1].pk}&quote=")
    assert (top["page"], top["page_end"], top["location"], top["language"]) == (1, 1, "p. 1", "el")
    assert {"score", "dense_score", "keyword_score", "uploaded_at", "heading", "document_title"} <= set(top)
    assert {d["id"] for d in body["documents"]} == {greek.pk}  # the English law holds neither word
    assert sum(d["hits"] for d in body["documents"]) == body["count"]
    second = client_for(reader).get(body["next"]).json()
    assert (
        second["page"] == 2
        and second["previous"]
        and not {r["chunk_id"] for r in second["results"]} & {r["chunk_id"] for r in body["results"]}
    )


@pytest.mark.slow
def test_english_search_with_filters_over_jwt(laws, reader, finance):
    _, _, english, chunks = laws
    response = client_for(reader).get(
        URL, {"q": "AUDIT COMMITTEES", "language": "en", "group": str(finance.pk), "document": str(english.pk)}
    )
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0]["chunk_id"] == chunks[1].pk and {r["document_id"] for r in results} == {english.pk}
    assert [results[0]["text"][h["start"] : h["end"]] for h in results[0]["highlights"]] == [
        "Audit Committee",
        "committee",
    ]


@pytest.mark.slow
def test_a_foreign_document_and_a_page_past_the_end_are_not_found(laws, reader, legal):
    from tests.factories import make_document

    secret = make_document(title="Legal only", groups=[legal], language="en")
    for params, code in (
        ({"q": "audit", "document": str(secret.pk)}, "document_not_found"),
        ({"q": "audit", "document": "999999"}, "document_not_found"),
        ({"q": "audit", "page": "50"}, "not_found"),
    ):
        response = client_for(reader).get(URL, params)
        assert response.status_code == 404, response.content
        assert response.json()["code"] == code


@pytest.mark.slow
def test_the_number_of_queries_does_not_grow_with_the_page(laws, reader, django_assert_max_num_queries):
    client_for(reader).get(URL, {"q": "warm up"})
    with django_assert_max_num_queries(12):
        small = client_for(reader).get(URL, {"q": "άρθρο article", "page_size": "1"})
    with django_assert_max_num_queries(12):
        large = client_for(reader).get(URL, {"q": "άρθρο article", "page_size": "50"})
    assert small.status_code == large.status_code == 200
    assert len(large.json()["results"]) > len(small.json()["results"]) == 1


@pytest.mark.slow
def test_a_dependency_down_is_a_503_with_a_code(laws, reader, settings):
    settings.EMBEDDING_BASE_URL = "http://127.0.0.1:9/v1"
    response = client_for(reader).get(URL, {"q": "audit"})
    assert response.status_code == 503
    assert response.json()["code"] == "embedding_unavailable"
