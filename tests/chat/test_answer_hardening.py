"""Issue 13, rows 1–3: quotas, cancellation, authorisation and secrets on the real answering path.

On the real answering path: quotas shared by every transport, a closed socket cancels its
answer, authorisation read again for each question, and no secret in any streamed token or stored text.

The model server is the scripted local HTTP server of ``test_answer_errors`` (the edge we cannot make misbehave on
demand); embeddings, the vector store, PostgreSQL and the ASGI stack are real.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from chat.models import ChatSession, Query, Response
from chat.services.answering import answer_stream
from docintel.roles import LIBRARIAN
from tests.chat import test_answer_errors as errors
from tests.chat.test_answer_errors import FakeLLM, _chunk
from tests.factories import make_document
from tests.support import index_document

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
indexed = errors.indexed  # the fixture of test_answer_errors: the tides, shared with Finance

KEY = "AKIAIOSFODNN7EXAMPLE"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


class ScriptLLM(FakeLLM):
    """Streams ``script`` (text, seconds to wait before it) and counts the streams open at once."""

    script: list[tuple[str, float]] = []
    open_now = 0
    open_max = 0

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.endswith("/tokenize"):
            self._json(404, b'{"error": "not found"}')
            return
        if not request.get("stream"):
            from tests.chat.test_answer_errors import PROBE_ANSWER

            self._json(200, PROBE_ANSWER)
            return
        cls = type(self)
        cls.open_now += 1
        cls.open_max = max(cls.open_max, cls.open_now)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for text, wait in self.script:
                time.sleep(wait)
                self.wfile.write(_chunk(text))
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            cls.open_now -= 1


@pytest.fixture
def script_llm(settings):
    """A scripted model server; a generous first-token target so a loaded machine still plans a generation."""
    import threading
    from http.server import ThreadingHTTPServer

    from devstack import localservers

    settings.ANSWER_FIRST_TOKEN_TARGET = 10.0
    servers = []

    def start(script: list[tuple[str, float]]) -> tuple[str, type[ScriptLLM]]:
        handler = type("Handler", (ScriptLLM,), {"script": script, "open_now": 0, "open_max": 0})
        server = ThreadingHTTPServer(("127.0.0.1", localservers.free_port()), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def own_cache(settings):
    """Quota counters of this test only (never a flush of the shared Redis)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


def _ws(session, token: str) -> WebsocketCommunicator:
    from docintel.asgi import application

    return WebsocketCommunicator(
        application, f"/ws/chat/{session.pk}", headers=[ORIGIN], subprotocols=["bearer", token]
    )


async def _until_final(comm: WebsocketCommunicator, timeout: float = 15) -> list[Any]:
    events = []
    while True:
        event = await comm.receive_json_from(timeout=timeout)
        if event["type"] == "ping":
            continue
        events.append(event)
        if event["type"] in ("answer", "error"):
            return events


# --- Row 1: quotas in the service, a closed socket cancels its answer ----------------------------------------------
def test_concurrent_answers_and_question_rate_are_refused_on_every_transport(
    indexed, reader, settings, script_llm, own_cache, rate_window_held
):
    """Failed before: a second socket of the same user was answered alongside the first, without limit."""
    settings.DOCINTEL_ANSWERS_CONCURRENT = 1
    settings.DOCINTEL_QUESTIONS_PER_MINUTE = 3
    settings.LLM_BASE_URL, llm = script_llm([("Spring tides happen", 0.0), (" at new and full moon [1].", 1.5)])
    first, second = ChatSession.objects.create(user=reader), ChatSession.objects.create(user=reader)
    jwt = str(RefreshToken.for_user(reader).access_token)

    async def two_sockets():
        a, b = _ws(first, jwt), _ws(second, jwt)
        assert (await a.connect())[0] and (await b.connect())[0]
        await a.send_json_to({"type": "question", "text": "When do spring tides happen?"})
        started = await a.receive_json_from(timeout=15)
        assert started["type"] == "token", started
        await b.send_json_to({"type": "question", "text": "When do spring tides happen?"})
        refused = await _until_final(b)
        answered = await _until_final(a)
        await a.disconnect()
        await b.disconnect()
        return refused, answered

    refused, answered = async_to_sync(two_sockets)()
    [refusal] = refused
    assert refusal == {"type": "error", "code": "rate_limited", "message": refusal["message"], "retry_after": 5}
    assert answered[-1]["type"] == "answer"
    assert llm.open_max == 1
    assert Query.objects.filter(user=reader).count() == 1  # the refusal stored nothing
    # The rate: two questions so far this minute counted (the refusal for a busy slot is not); a third passes, the
    # fourth is refused on the sync API (429, Retry-After) and on SSE (one error event with retry_after).
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # down: the quoted answer, at once
    from django.test import Client

    token = RefreshToken.for_user(reader).access_token
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    ok = client.post("/api/v1/query", {"text": "When do spring tides happen?"}, content_type="application/json")
    assert ok.status_code == 200, ok.content
    events = asyncio.run(_collect(user=reader, text="When do spring tides happen?", channel="api"))
    assert events[-1]["type"] == "answer"  # the third
    limited = client.post("/api/v1/query", {"text": "When do spring tides happen?"}, content_type="application/json")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited", limited.content
    assert int(limited["Retry-After"]) == 31  # the rest of the window (held at its middle) and one second
    assert limited.json()["detail"]["retry_after"] == int(limited["Retry-After"])

    async def sse() -> str:
        from django.test import AsyncClient

        response = await AsyncClient().post(
            "/api/v1/query/stream", {"text": "When do spring tides happen?"}, content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        return b"".join([part async for part in response.streaming_content]).decode()  # type: ignore[attr-defined]  # streaming

    body = async_to_sync(sse)()
    assert body.startswith("event: error\n"), body
    event = json.loads(body.split("data: ", 1)[1])
    assert event["code"] == "rate_limited" and 1 <= event["retry_after"] <= 61
    assert Query.objects.filter(user=reader).count() == 3  # ws, api, service: the refusals stored nothing


async def _collect(**kwargs) -> list[Any]:
    return [e async for e in answer_stream(**kwargs)]


def test_a_closed_socket_cancels_its_answer(indexed, reader, settings, script_llm, own_cache):
    """Failed before: the stream of a closed socket ran on to the end and was stored completed or extractive."""
    script = [("Spring tides happen", 0.0)] + [(" at new and full moon", 0.4)] * 10
    settings.LLM_BASE_URL, llm = script_llm(script)
    settings.ANSWER_STALL_SECONDS = 2.0
    session = ChatSession.objects.create(user=reader)
    jwt = str(RefreshToken.for_user(reader).access_token)

    async def ask_and_leave():
        comm = _ws(session, jwt)
        assert (await comm.connect())[0]
        await comm.send_json_to({"type": "question", "text": "When do spring tides happen?"})
        assert (await comm.receive_json_from(timeout=15))["type"] == "token"
        await comm.disconnect()
        closed_at = time.perf_counter()
        from asgiref.sync import sync_to_async

        stored = sync_to_async(Response.objects.filter(query__session=session).exists)
        while not await stored():
            await asyncio.sleep(0.1)
            assert time.perf_counter() - closed_at < 3
        return time.perf_counter() - closed_at

    async_to_sync(ask_and_leave)()
    response = Response.objects.get(query__session=session)
    assert response.status == Response.Status.CANCELLED and response.error_code == "cancelled"
    assert response.text.startswith("Spring tides")
    deadline = time.perf_counter() + 3
    while llm.open_now and time.perf_counter() < deadline:  # the fake notices on its next write
        time.sleep(0.1)
    assert llm.open_now == 0  # the model's stream was closed too


# --- Row 2: authorisation read again for each question ---------------------------------------------------------------
def test_a_librarian_demoted_with_the_socket_open_no_longer_cites_restricted_documents(
    indexed, librarian, finance, settings, own_cache
):
    """Failed before: the socket's user kept its cached is_librarian until the socket closed."""
    doc, greek = indexed
    restricted = make_document(title="Tide tables (librarians only)", language="en")
    index_document(restricted, ["Spring tides happen twice a month, at new moon and at full moon, said the survey."])
    librarian.groups.add(finance)
    session = ChatSession.objects.create(user=librarian)
    jwt = str(RefreshToken.for_user(librarian).access_token)

    def demote():
        librarian.groups.remove(librarian.groups.get(name=LIBRARIAN))

    async def scenario():
        comm = _ws(session, jwt)
        assert (await comm.connect())[0]
        await comm.send_json_to({"type": "question", "text": "When do spring tides happen?"})
        before = (await _until_final(comm))[-1]
        from asgiref.sync import sync_to_async

        await sync_to_async(demote)()
        await comm.send_json_to({"type": "question", "text": "When do spring tides happen?"})
        after = (await _until_final(comm))[-1]
        await comm.disconnect()
        return before, after

    before, after = async_to_sync(scenario)()
    assert before["type"] == after["type"] == "answer", (before, after)

    def seen(final: Any) -> set[int]:
        response = Response.objects.get(pk=final["response_id"])
        return {p["document_id"] for p in response.retrieved} | {c["document_id"] for c in final["citations"]}

    assert restricted.pk in seen(before), before
    assert restricted.pk not in seen(after), after
    assert seen(after) <= {doc.pk, greek.pk}


# --- Row 3: nothing unsafe leaves -------------------------------------------------------------------------------------
SECRET_PASSAGE = f"The tide gauge uploads with the access key {KEY} (operations keeps it)."


def _assert_no_key(events: list[Any], response: Response) -> None:
    tokens = "".join(e["text"] for e in events if e["type"] == "token")
    assert KEY not in tokens and "AKIAIOSF" not in tokens, tokens
    assert [json.dumps(e) for e in events if KEY in json.dumps(e)] == []
    assert KEY not in response.text
    assert KEY not in json.dumps(response.decision) and KEY not in json.dumps(response.citations)


def test_a_secret_in_the_documents_never_appears_in_a_token_or_the_stored_answer(
    indexed, reader, finance, settings, script_llm
):
    """Failed before: the key was streamed in ``token`` events and only the final message was redacted."""
    doc = make_document(title="Tide gauge", groups=[finance], language="en")
    index_document(doc, [SECRET_PASSAGE])
    settings.LLM_BASE_URL, _ = script_llm(
        [("The tide gauge uploads with the access key AKIA", 0.0), ("IOSFODNN7", 0.05), ("EXAMPLE [1].", 0.05)]
    )
    events = asyncio.run(_collect(user=reader, text="Which access key does the tide gauge upload with?"))
    assert events[-1]["type"] == "answer", events[-1]
    decision = Response.objects.get(pk=events[-1]["response_id"]).decision
    assert any(e["type"] == "token" for e in events), decision
    _assert_no_key(events, Response.objects.get(pk=events[-1]["response_id"]))


def test_a_cancelled_answer_is_stored_sanitised(indexed, reader, finance, settings, script_llm):
    """Failed before: the cancelled answer's stored text was what the tokens showed, the key included."""
    doc = make_document(title="Tide gauge", groups=[finance], language="en")
    index_document(doc, [SECRET_PASSAGE])
    settings.ANSWER_STALL_SECONDS = 2.0
    settings.LLM_BASE_URL, _ = script_llm(
        [(f"The tide gauge uploads with the access key {KEY} as", 0.0)] + [(" we said", 0.3)] * 6
    )
    cancel = asyncio.Event()

    async def ask() -> list[Any]:
        events = []
        async for event in answer_stream(
            user=reader, text="Which access key does the tide gauge upload with?", cancel=cancel
        ):
            events.append(event)
            if event["type"] == "token":
                cancel.set()
        return events

    events = asyncio.run(ask())
    assert (events[-1]["type"], events[-1]["code"]) == ("error", "cancelled"), events[-1]
    response = Response.objects.get(pk=events[-1]["response_id"])
    assert response.status == Response.Status.CANCELLED
    assert response.text.startswith("The tide gauge uploads with the access key ******")
    _assert_no_key(events, response)
