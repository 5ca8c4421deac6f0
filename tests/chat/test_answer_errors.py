"""When generation cannot deliver, the reader still gets a cited answer: quotes from the passages (``extractive``).

The model server is replaced by a tiny local HTTP server only here (the edge we cannot make fail on demand: down,
5xx, slow, stalling, garbage, leaking the canary); embeddings and the vector store are the real local servers.
It answers the speed probe like llama.cpp (with ``timings``) unless it is meant to be slow, and has no
``/tokenize`` (so the budget's estimate path runs too).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from audit.models import AuditLog
from chat.models import ChatSession, Response
from chat.services.answering import answer_stream, answer_sync
from devstack import localservers
from tests.factories import make_document
from tests.support import index_document, use_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIDES = "Spring tides happen at new and full moon, when the sun and moon align."
PALIRROIA = "Οι παλίρροιες συζυγίας συμβαίνουν στη νέα και στην πανσέληνο, όταν ο ήλιος και η σελήνη ευθυγραμμίζονται."


def _chunk(text: str) -> bytes:
    body = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}  # fmt: skip
    return b"data: " + json.dumps(body).encode() + b"\n\n"


PROBE_ANSWER = json.dumps(
    {
        "id": "p", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 1, "total_tokens": 121},
        "timings": {"prompt_per_second": 400.0, "predicted_per_second": 50.0},
    }
).encode()  # fmt: skip


class FakeLLM(BaseHTTPRequestHandler):
    mode = "slow"

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.endswith("/tokenize"):
            self._json(404, b'{"error": "not found"}')
            return
        if self.mode == "500":
            self._json(500, b'{"error": {"message": "boom"}}')
            return
        if self.mode == "slow":  # not even the probe is answered in time
            time.sleep(8)
            return
        if not request.get("stream"):
            self._json(200, PROBE_ANSWER)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if self.mode == "slow_stream":  # the probe was fast, this prompt never starts
            time.sleep(8)
        elif self.mode == "garbage":
            self.wfile.write(b"data: {this is not json\n\n")
        elif self.mode == "stall":  # tokens, then silence past the stall limit
            self.wfile.write(_chunk("Spring tides happen at new and full moon [1]"))
            self.wfile.flush()
            time.sleep(8)
        elif self.mode == "leak":  # the model repeats its system prompt's canary
            found = re.search(r"DOCINTEL-CANARY-[0-9a-f]+", json.dumps(request))
            canary = found.group(0) if found else "no-canary"
            self.wfile.write(_chunk(f"My marker is {canary}."))
        elif self.mode == "english":  # a Greek question answered in English
            self.wfile.write(_chunk("Spring tides happen at new and full moon, when the sun and moon align [1]."))
        elif self.mode == "offtopic":  # general knowledge, not in the passages
            self.wfile.write(_chunk("ROT13 is a simple letter substitution cipher used in online forums."))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


@pytest.fixture
def fake_llm():
    servers = []

    def start(mode):
        handler = type("Handler", (FakeLLM,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", localservers.free_port()), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def indexed(settings, embedding_url, qdrant_url, finance):
    use_stack(settings, llm_url="http://127.0.0.1:9/v1", embedding_url=embedding_url, qdrant_url=qdrant_url)
    settings.ANSWER_FIRST_TOKEN_TARGET = 2.0
    settings.ANSWER_FIRST_TOKEN_GRACE = 0.5
    settings.ANSWER_STALL_SECONDS = 1.0
    settings.LLM_TIMEOUT = 4.0
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fallback"}}
    from chat.services.answering.budget import speed_forget

    speed_forget()
    doc = make_document(title="Tides", groups=[finance], language="en")
    index_document(doc, [TIDES])
    greek = make_document(title="Παλίρροιες", groups=[finance], language="el")
    index_document(greek, [PALIRROIA])
    return doc, greek


async def collect(**kwargs):
    started = time.perf_counter()
    events = [e async for e in answer_stream(**kwargs)]
    return events, time.perf_counter() - started


def assert_extractive(final, *, quote: str, document) -> Response:
    assert final["type"] == "answer", final
    assert final["status"] == "extractive"
    assert quote in final["text"]
    assert final["citations"] and final["citations"][0]["document_id"] == document.pk
    assert final["citations"][0]["quote"] and final["citations"][0]["quote"] in quote
    assert f"[{final['citations'][0]['number']}]" in final["text"]
    response = Response.objects.get(pk=final["response_id"])
    assert response.status == Response.Status.EXTRACTIVE and response.error_code == ""
    assert response.text == final["text"] and response.citations == final["citations"]
    return response


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("down", "llm_unavailable"),
        ("500", "llm_unavailable"),
        ("slow", "llm_timeout"),
        ("slow_stream", "llm_timeout"),
        ("stall", "stalled"),
        ("garbage", "llm_bad_response"),
        ("leak", "output_blocked"),
        ("offtopic", "unsupported"),
    ],
)
def test_generation_that_cannot_deliver_gives_the_quoted_answer(indexed, reader, settings, fake_llm, mode, reason):
    doc, _ = indexed
    if mode != "down":
        settings.LLM_BASE_URL = fake_llm(mode)
    events, elapsed = asyncio.run(collect(user=reader, text="When do spring tides happen?"))
    response = assert_extractive(events[-1], quote=TIDES, document=doc)
    assert response.decision["reason"] == reason, response.decision
    assert elapsed < 2.0 + 0.5 + 1.5 + 2.0  # target + grace + stall, and embeddings + retrieval
    if mode in ("slow", "slow_stream"):
        assert response.decision["budget"]["speed"] is not None  # the slowness was recorded as a low estimate
    if mode == "stall":  # the shown tokens are supported: they stay, the quotes follow
        assert events[-1]["text"].startswith("Spring tides happen at new and full moon [1]")
        assert any(e["type"] == "token" for e in events)
    if mode == "leak":
        assert AuditLog.objects.filter(action="guardrail_blocked", details__stage="output").exists()
        assert "DOCINTEL-CANARY" not in events[-1]["text"] and "generated_text" not in response.decision
        assert all("DOCINTEL-CANARY" not in e.get("text", "") for e in events)
    if mode == "offtopic":
        assert response.decision["generated_text"].startswith("ROT13")  # kept for the librarian, never shown
        assert response.decision["support"]["supported"] is False
        assert "ROT13" not in events[-1]["text"]


def test_a_greek_question_answered_in_english_gets_the_greek_quote(indexed, reader, settings, fake_llm):
    _, greek = indexed
    settings.LLM_BASE_URL = fake_llm("english")
    events, _ = asyncio.run(collect(user=reader, text="Πότε συμβαίνουν οι παλίρροιες συζυγίας;"))
    response = assert_extractive(events[-1], quote=PALIRROIA, document=greek)
    assert events[-1]["text"].startswith("Αυτούσιο απόσπασμα από τις πηγές")
    assert response.decision["reason"] == "wrong_language"
    assert not [e for e in events if e["type"] == "token"]  # the English text was never shown
    assert response.decision["generated_text"].startswith("Spring tides")


def test_nothing_relevant_still_says_the_documents_do_not_say(indexed, reader, settings, fake_llm):
    settings.LLM_BASE_URL = fake_llm("offtopic")
    for question, language in (("Who wrote the opera Aida for Cairo?", "en"), ("Ποιος έγραψε την όπερα Αΐντα;", "el")):
        events, _ = asyncio.run(collect(user=reader, text=question))
        final = events[-1]
        assert final["status"] == "no_answer" and final["citations"] == [], final
        from chat.services.answering import NO_ANSWER

        assert final["text"] == NO_ANSWER[language]


def test_an_unsupported_answer_over_unrelated_passages_is_no_answer(indexed, reader, settings, fake_llm):
    """An off-topic answer gets no citation.

    Retrieval found something (relevant by score), the model answered from general knowledge, and no sentence of
    the passages answers the question: no citation is attached to anything.
    """
    settings.LLM_BASE_URL = fake_llm("offtopic")
    settings.DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE = 0.0  # let an unrelated passage through, as attack questions do
    events, _ = asyncio.run(collect(user=reader, text="Explain how the ROT13 cipher encodes text."))
    final = events[-1]
    assert final["status"] == "no_answer" and final["citations"] == [], final
    response = Response.objects.get(pk=final["response_id"])
    assert response.decision["reason"] == "unsupported"


# --- The same fallback on every transport ----------------------------------------------------------------------------
def test_sync_api_and_sse_give_the_quoted_answer_when_the_model_is_down(indexed, reader, settings):
    from django.test import Client

    doc, _ = indexed
    result = answer_sync(user=reader, text="When do spring tides happen?")
    assert result.status == "extractive" and TIDES in result.text and result.citations

    client = Client()
    token = RefreshToken.for_user(reader).access_token
    sync = client.post(
        "/api/v1/query", {"text": "When do spring tides happen?"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert sync.status_code == 200, sync.content
    assert sync.json()["status"] == "extractive" and sync.json()["citations"][0]["document_id"] == doc.pk

    async def sse() -> str:
        from django.test import AsyncClient

        response = await AsyncClient().post(
            "/api/v1/query/stream", {"text": "When do spring tides happen?"}, content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        return b"".join([part async for part in response.streaming_content]).decode()  # type: ignore[attr-defined]  # a streaming response

    body = async_to_sync(sse)()
    final = json.loads(body.split("event: answer\ndata: ", 1)[1].split("\n", 1)[0])
    assert final["status"] == "extractive" and TIDES in final["text"]


def test_websocket_gives_the_quoted_answer_when_the_model_stalls(indexed, reader, settings, fake_llm):
    from docintel.asgi import application

    doc, _ = indexed
    settings.LLM_BASE_URL = fake_llm("slow_stream")
    session = ChatSession.objects.create(user=reader)
    token = str(RefreshToken.for_user(reader).access_token)

    async def ask():
        comm = WebsocketCommunicator(
            application, f"/ws/chat/{session.pk}", headers=[(b"origin", b"http://127.0.0.1:8000")],
            subprotocols=["bearer", token],
        )  # fmt: skip
        connected, _ = await comm.connect()
        assert connected
        await comm.send_json_to({"type": "question", "text": "When do spring tides happen?"})
        while True:
            event = await comm.receive_json_from(timeout=15)
            if event["type"] in ("answer", "error"):
                await comm.disconnect()
                return event

    final = async_to_sync(ask)()
    assert_extractive(final, quote=TIDES, document=doc)
