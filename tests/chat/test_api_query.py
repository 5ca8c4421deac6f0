"""Question endpoints as transport: validation, sessions, throttling, error codes and SSE framing.

The answering service is replaced here by a recording fake (its own tests and ``tests/e2e/test_api_live.py`` run the
real path), so these tests check what the views do around it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from rest_framework_simplejwt.tokens import RefreshToken

from chat.api import views
from chat.events import Citation
from chat.models import ChatSession, Query
from chat.services.answering import AnswerResult
from docintel.errors import GuardrailBlocked, LLMTimeout, LLMUnavailable

# The question throttle counts per user in the cache: each test its own (api_as brings it; _stream needs it too).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

CITATION: Citation = {
    "number": 1,
    "chunk_id": 7,
    "document_id": 3,
    "document_title": "Budget",
    "page": 2,
    "page_end": None,
    "heading": "Costs",
    "location": "p. 2",
    "quote": "the budget is 42",
    "score": 0.8,
    "url": "/documents/3/source/?chunk=7",
}


HTML = '<p>It is 42 <a class="cite" href="/documents/3/source/?chunk=7">[1]</a>.</p>'


@pytest.fixture
def calls(monkeypatch):
    """Replace both answering entry points; record what the views pass."""
    recorded: list[dict[str, Any]] = []

    def fake_sync(**kwargs):
        recorded.append(kwargs)
        return AnswerResult(
            text="It is 42 [1].", citations=[CITATION], response_id=11, query_id=10, status="completed", html=HTML
        )

    def fake_stream(**kwargs):
        recorded.append(kwargs)
        return _answer_events()

    monkeypatch.setattr(views, "answer_sync", fake_sync)
    monkeypatch.setattr(views, "answer_stream", fake_stream)
    return recorded


async def _answer_events():
    for word in ("It ", "is ", "42."):
        yield {"type": "token", "text": word}
    yield {
        "type": "answer",
        "text": "It is 42 [1].",
        "html": HTML,
        "citations": [CITATION],
        "response_id": 11,
        "query_id": 10,
        "status": "completed",
    }


def test_query_answers_with_citations(api_as, reader, calls):
    response = api_as(reader).post("/api/v1/query", {"text": "  What is the budget?  "}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "text": "It is 42 [1].",
        "html": HTML,
        "citations": [CITATION],
        "response_id": 11,
        "query_id": 10,
        "status": "completed",
    }
    [call] = calls
    assert call["user"] == reader and call["text"] == "What is the budget?" and call["session"] is None


def test_query_in_an_own_session_and_not_in_a_foreign_one(api_as, reader, outsider, calls):
    session = ChatSession.objects.create(user=reader)
    ok = api_as(reader).post("/api/v1/query", {"text": "Q?", "session_id": str(session.pk)}, format="json")
    assert ok.status_code == 200 and calls[-1]["session"] == session
    for sid in (session.pk, uuid.uuid4()):
        foreign = api_as(outsider).post("/api/v1/query", {"text": "Q?", "session_id": str(sid)}, format="json")
        assert foreign.status_code == 404 and foreign.json()["code"] == "session_not_found"
    assert len(calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": ""},
        {"text": "\x1c\n "},
        {"text": "a\x00b"},
        {"text": 0},
        {"text": "x" * 5000},
        {"text": "Q", "session_id": "nope"},
        {"text": "Q", "sesion_id": None},
    ],
)
def test_invalid_questions_are_refused_before_the_service(api_as, reader, calls, body):
    for url in ("/api/v1/query", "/api/v1/query/stream"):
        response = api_as(reader).post(url, body, format="json")
        assert response.status_code == 400 and response.json()["code"] == "invalid_input"
    assert calls == []


@pytest.mark.parametrize("lang", ["en", "el"])
def test_the_question_limit_is_the_services_on_both_routes(api_as, reader, calls, settings, lang):
    """``chat.services.quota.question_check`` decides: max characters pass, max + 1 is ``invalid_input`` on both."""
    from tests.chat.question_texts import question_of

    limit = settings.DOCINTEL_WS_MAX_QUESTION_CHARS
    client = api_as(reader)
    for url in ("/api/v1/query", "/api/v1/query/stream"):
        refused = client.post(url, {"text": question_of(lang, limit + 1)}, format="json")
        assert refused.status_code == 400, url
        assert refused.json() == {
            "code": "invalid_input",
            "message": f"The question is too long: at most {limit} characters.",
            "detail": {"text": [f"The question is too long: at most {limit} characters."]},
        }
    assert calls == []
    exact = question_of(lang, limit)
    assert client.post("/api/v1/query", {"text": f"  {exact}\n"}, format="json").status_code == 200
    assert b"event: answer" in b"".join(client.post("/api/v1/query/stream", {"text": exact}, format="json"))
    assert [call["text"] for call in calls] == [exact, exact]  # trimmed, whole
    settings.DOCINTEL_WS_MAX_QUESTION_CHARS = 10  # read when the question comes, not when the module was imported
    assert client.post("/api/v1/query", {"text": question_of(lang, 11)}, format="json").status_code == 400
    assert len(calls) == 2


def test_sse_refuses_an_over_long_question_as_one_error_event(reader, calls, settings):
    from tests.chat.question_texts import question_of

    response, content = _stream(reader, {"text": question_of("el", settings.DOCINTEL_WS_MAX_QUESTION_CHARS + 1)})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/event-stream")
    [(name, data)] = _sse(content)
    assert (name, data["code"]) == ("error", "invalid_input") and "too long" in data["message"]
    assert calls == []


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (GuardrailBlocked("blocked", detail={"response_id": 5, "query_id": 4}), 422, "guardrail_blocked"),
        (LLMUnavailable(), 503, "llm_unavailable"),
        (LLMTimeout(), 504, "llm_timeout"),
    ],
)
def test_service_errors_keep_their_code_and_status(api_as, reader, monkeypatch, error, status, code):
    def failing(**kwargs):
        raise error

    monkeypatch.setattr(views, "answer_sync", failing)
    response = api_as(reader).post("/api/v1/query", {"text": "Q?"}, format="json")
    assert response.status_code == status
    assert response.json() == {"code": code, "message": error.message, "detail": error.detail}


def test_questions_are_limited_by_the_service_quota_on_both_routes(
    api_as, reader, outsider, settings, monkeypatch, rate_window_held
):
    """Both transports refuse a question past the quota, and nothing is asked.

    The quota lives in the answering service (chat.services.quota): 429 with Retry-After on the sync route, one
    ``event: error`` with ``retry_after`` on the stream; nothing is asked past it.
    """
    from chat.services.answering import stream

    asked: list[str] = []

    async def answered(**kwargs):
        asked.append(kwargs["text"])
        async for event in _answer_events():
            yield event

    monkeypatch.setattr(stream, "_answer", answered)
    settings.DOCINTEL_QUESTIONS_PER_MINUTE = 2
    client = api_as(reader)
    assert client.post("/api/v1/query", {"text": "1"}, format="json").status_code == 200
    assert b"event: answer" in b"".join(client.post("/api/v1/query/stream", {"text": "2"}, format="json"))
    limited = client.post("/api/v1/query", {"text": "3"}, format="json")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 61 and limited.json()["detail"]["retry_after"] == int(
        limited["Retry-After"]
    )
    body = b"".join(client.post("/api/v1/query/stream", {"text": "4"}, format="json")).decode()
    assert body.startswith("event: error\n") and '"code": "rate_limited"' in body and '"retry_after": ' in body
    assert api_as(outsider).post("/api/v1/query", {"text": "5"}, format="json").status_code == 200
    assert asked == ["1", "2", "5"]
    # other routes are not limited
    assert client.get("/api/v1/sessions/").status_code == 200


def test_questions_are_json_only(api_as, reader, calls):
    for url in ("/api/v1/query", "/api/v1/query/stream"):
        response = api_as(reader).post(url, {"text": "Q?"}, format="multipart")
        assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    assert calls == []


def test_anonymous_may_not_ask(anon, calls):
    for url in ("/api/v1/query", "/api/v1/query/stream"):
        response = anon.post(url, {"text": "Q?"}, format="json")
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert calls == [] and not Query.objects.exists()


def _sse(content: bytes) -> list[tuple[str, dict[str, Any]]]:
    frames = []
    for block in content.decode().split("\n\n"):
        if block:
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            frames.append((lines["event"], json.loads(lines["data"])))
    return frames


def _stream(user, body, accept="text/event-stream"):
    """POST to the SSE endpoint through Django's ASGI handler and read the whole stream."""
    token = RefreshToken.for_user(user).access_token  # writes the outstanding token row: not in the event loop

    async def go():
        response = await AsyncClient().post(
            "/api/v1/query/stream",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Accept": accept},
        )
        if not response.streaming:
            return response, response.content
        chunks: AsyncIterator[bytes] = response.streaming_content  # type: ignore[attr-defined]  # a streaming response
        return response, b"".join([chunk async for chunk in chunks])

    return async_to_sync(go)()


def test_sse_streams_tokens_then_the_answer(reader, calls):
    response, content = _stream(reader, {"text": "What is the budget?"})
    assert response.status_code == 200, content
    assert response.streaming
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    frames = _sse(content)
    assert [name for name, _ in frames] == ["token", "token", "token", "answer"]
    assert "".join(data["text"] for name, data in frames if name == "token") == "It is 42."
    assert frames[-1][1]["citations"] == [CITATION] and frames[-1][1]["response_id"] == 11
    assert calls[0]["user"] == reader and calls[0]["text"] == "What is the budget?"


def test_sse_error_before_the_stream_is_an_error_event_for_event_stream_clients(reader, outsider, calls):
    session = ChatSession.objects.create(user=reader)
    response, content = _stream(outsider, {"text": "Q?", "session_id": str(session.pk)})
    assert response.status_code == 404 and response["Content-Type"].startswith("text/event-stream")
    assert _sse(content) == [
        ("error", {"type": "error", "code": "session_not_found", "message": "Chat session not found."})
    ]
    as_json, body = _stream(outsider, {"text": "Q?", "session_id": str(session.pk)}, accept="application/json")
    assert as_json.status_code == 404 and json.loads(body)["code"] == "session_not_found"
    assert calls == []


def test_a_failure_inside_the_stream_ends_it_with_an_error_event(reader, monkeypatch):
    async def breaking(**kwargs):
        yield {"type": "token", "text": "It "}
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "answer_stream", breaking)
    response, content = _stream(reader, {"text": "Q?"})
    assert response.status_code == 200
    assert _sse(content) == [
        ("token", {"type": "token", "text": "It "}),
        ("error", {"type": "error", "code": "internal_error", "message": "The answer could not be completed."}),
    ]
    assert b"boom" not in content


def test_service_error_events_are_forwarded_unchanged(reader, monkeypatch):
    async def blocked(**kwargs):
        yield {"type": "error", "code": "guardrail_blocked", "message": "Blocked.", "response_id": 3, "query_id": 2}

    monkeypatch.setattr(views, "answer_stream", blocked)
    _, content = _stream(reader, {"text": "Q?"})
    assert _sse(content) == [
        (
            "error",
            {"type": "error", "code": "guardrail_blocked", "message": "Blocked.", "response_id": 3, "query_id": 2},
        )
    ]
