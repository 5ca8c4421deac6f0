"""Chat sessions, their history and feedback over the API: a user only ever reaches their own."""

from __future__ import annotations

import uuid

import pytest

from chat.models import ChatSession, Feedback, Query, Response

pytestmark = pytest.mark.django_db


def _exchange(user, session=None, text="What is the budget?", answer="42 [1]", status=Response.Status.COMPLETED):
    query = Query.objects.create(user=user, session=session, text=text, channel="api")
    citation = {
        "number": 1,
        "chunk_id": 1,
        "document_id": 1,
        "document_title": "Budget",
        "page": 3,
        "page_end": None,
        "heading": "",
        "location": "p. 3",
        "quote": "forty-two",
        "score": 0.9,
        "url": "/documents/1/source/?chunk=1",
    }
    return Response.objects.create(query=query, text=answer, citations=[citation], status=status)


def test_create_list_and_read_a_session_with_its_history(api_as, reader):
    client = api_as(reader)
    created = client.post("/api/v1/sessions/", {"title": "  Budget questions  "}, format="json")
    assert created.status_code == 201
    session_id = created.json()["id"]
    assert created.json()["title"] == "Budget questions"
    session = ChatSession.objects.get(pk=session_id, user=reader)
    _exchange(reader, session, text="First?")
    second = _exchange(reader, session, text="Second?", answer="Not in the documents.", status="no_answer")

    listed = client.get("/api/v1/sessions/").json()
    assert [(s["id"], s["first_question"]) for s in listed] == [(session_id, "First?")]

    detail = client.get(f"/api/v1/sessions/{session_id}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["session"]["id"] == session_id
    assert [h["question"] for h in body["history"]] == ["First?", "Second?"]
    assert body["history"][1] == {
        "query_id": second.query_id,
        "question": "Second?",
        "response_id": second.pk,
        "status": "no_answer",
        "text": "Not in the documents.",
        "citations": second.citations,
        "superseded": [],  # no cited document has a newer version
    }
    assert body["history"][0]["citations"][0]["url"] == "/documents/1/source/?chunk=1"


def test_a_session_without_title_is_created_from_an_empty_body(api_as, outsider):
    response = api_as(outsider).post("/api/v1/sessions/", {}, format="json")
    assert response.status_code == 201 and response.json()["title"] == ""
    refused = api_as(outsider).post("/api/v1/sessions/", {"title": 0}, format="json")
    assert refused.status_code == 400 and refused.json()["detail"] == {"title": ["Not a valid string."]}
    assert ChatSession.objects.count() == 1


def test_another_users_session_answers_404_like_a_missing_one(api_as, reader, outsider):
    session = ChatSession.objects.create(user=reader, title="mine")
    _exchange(reader, session, text="private question")
    foreign = api_as(outsider).get(f"/api/v1/sessions/{session.pk}/")
    missing = api_as(outsider).get(f"/api/v1/sessions/{uuid.uuid4()}/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() and foreign.json()["code"] == "session_not_found"
    assert b"private question" not in foreign.content
    assert api_as(outsider).get("/api/v1/sessions/").json() == []


def test_feedback_on_an_own_answer_is_recorded_and_replaced(api_as, reader):
    response = _exchange(reader)
    client = api_as(reader)
    url = f"/api/v1/responses/{response.pk}/feedback/"
    first = client.post(url, {"rating": -1, "comment": "wrong page"}, format="json")
    assert first.status_code == 200
    assert first.json()["response_id"] == response.pk and first.json()["rating"] == -1
    client.post(url, {"rating": 1}, format="json")
    feedback = Feedback.objects.get(response=response, user=reader)
    assert (feedback.rating, feedback.comment) == (1, "")


def test_feedback_validation_and_foreign_responses(api_as, reader, outsider):
    response = _exchange(reader)
    url = f"/api/v1/responses/{response.pk}/feedback/"
    typo = api_as(reader).post(url, {"rating": 1, "coment": "x"}, format="json")
    assert typo.status_code == 400 and typo.json()["detail"] == {"coment": ["Unknown field."]}
    bad = api_as(reader).post(url, {"rating": 5}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_input" and "rating" in bad.json()["detail"]
    long = api_as(reader).post(url, {"rating": 1, "comment": "x" * 2001}, format="json")
    assert long.status_code == 400
    foreign = api_as(outsider).post(url, {"rating": 1}, format="json")
    assert foreign.status_code == 404 and foreign.json()["code"] == "response_not_found"
    missing = api_as(reader).post("/api/v1/responses/987654321/feedback/", {"rating": 1}, format="json")
    assert missing.json() == foreign.json()
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/sessions/"),
        ("post", "/api/v1/sessions/"),
        ("get", f"/api/v1/sessions/{uuid.UUID(int=1)}/"),
        ("post", "/api/v1/responses/1/feedback/"),
    ],
)
def test_anonymous_is_refused_on_session_routes(anon, method, url):
    response = getattr(anon, method)(url, {}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert not ChatSession.objects.exists() and not Feedback.objects.exists()
