"""LLM down, slow, failing or returning garbage: a coded error within the timeout, nothing half-persisted.

The model server is replaced by a tiny local HTTP server only here (the edge we cannot make fail on demand);
embeddings and the vector store are the real local servers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chat.models import Response
from chat.services.answering import answer_stream
from docintel import localservers
from tests.evaluation.support import index_document, use_stack
from tests.factories import make_document

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHUNK = (
    b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
)


class FakeLLM(BaseHTTPRequestHandler):
    mode = "slow"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.mode == "500":
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom"}}')
            return
        if self.mode == "slow":
            time.sleep(5)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if self.mode == "garbage":
            self.wfile.write(b"data: {this is not json\n\n")
        elif self.mode == "stall":  # one token, then silence past the total timeout
            self.wfile.write(CHUNK)
            self.wfile.flush()
            time.sleep(5)
        elif self.mode == "empty":
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


def warm_up():
    """Load the guards and Haystack once, so the timings below measure answering, not first imports."""
    from chat.pipelines.answering import generation_pipeline, retrieval_pipeline
    from chat.services.guards import guards_warm_up

    guards_warm_up()
    retrieval_pipeline()
    generation_pipeline()


@pytest.fixture
def indexed(settings, embedding_url, qdrant_url, finance):
    use_stack(settings, llm_url="http://127.0.0.1:9/v1", embedding_url=embedding_url, qdrant_url=qdrant_url)
    settings.LLM_FIRST_TOKEN_TIMEOUT = 1.0
    settings.LLM_TIMEOUT = 2.0
    warm_up()
    doc = make_document(title="Tides", groups=[finance], language="en")
    index_document(doc, ["Spring tides happen at new and full moon, when the sun and moon align."])
    return doc


@pytest.mark.parametrize(
    ("mode", "code", "max_seconds"),
    [
        ("down", "llm_unavailable", 3.0),
        ("500", "llm_unavailable", 3.0),
        ("slow", "llm_timeout", 3.0),
        ("stall", "llm_timeout", 4.0),
        ("garbage", "llm_bad_response", 3.0),
        ("empty", "llm_bad_response", 3.0),
    ],
)
def test_llm_failure_reaches_the_caller_as_a_coded_error(indexed, reader, settings, fake_llm, mode, code, max_seconds):
    if mode != "down":
        settings.LLM_BASE_URL = fake_llm(mode)

    async def run():
        started = time.perf_counter()
        events = [e async for e in answer_stream(user=reader, text="When do spring tides happen?")]
        return events, time.perf_counter() - started

    events, elapsed = asyncio.run(run())
    final = events[-1]
    assert final["type"] == "error", final
    assert final["code"] == code
    assert elapsed < max_seconds + 1.5  # embeddings + retrieval add well under a second
    response = Response.objects.get(pk=final["response_id"])
    assert response.status == Response.Status.FAILED
    assert response.error_code == code
    assert response.text == "" and response.citations == []
    assert not Response.objects.exclude(status=Response.Status.FAILED).exists()
