"""Issue 13, row 1 under load: 50 WebSocket clients of one user at once against a real Daphne (loopback only).

The quota holds: at most ``DOCINTEL_ANSWERS_CONCURRENT`` answers run (the model server never sees more streams at
once), every other question is refused ``rate_limited`` with ``retry_after``, and nothing is stored for a refusal.
The model is the scripted local server of ``tests/chat/test_answer_hardening.py`` (slow on purpose, so the answers
overlap); embeddings, vector store, PostgreSQL, Redis and Daphne are real. Bounded: one question per client, seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
import websockets
from rest_framework_simplejwt.tokens import AccessToken
from websockets.typing import Origin, Subprotocol

from chat.models import ChatSession, Query
from tests.chat.test_answer_hardening import ScriptLLM
from tests.e2e.conftest import PASSAGES, QUESTION
from tests.factories import make_document
from tests.support import index_document, use_stack

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLIENTS = 50
CONCURRENT = 2


@pytest.fixture(scope="module")
def scripted_llm():
    from devstack import localservers

    script = [("The dam is 71 metres high", 0.0)] + [(" [1]", 0.3)] * 12  # about 4 s per answer
    handler = type("Handler", (ScriptLLM,), {"script": script, "open_now": 0, "open_max": 0})
    server = ThreadingHTTPServer(("127.0.0.1", localservers.free_port()), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def quota_daphne(django_db_setup, django_db_blocker, scripted_llm, embedding_url, qdrant_url, server_logs):
    from django.db import connection

    from devstack import localservers

    port = localservers.free_port()
    prefix = f"wq{uuid.uuid4().hex[:10]}"
    env = {
        "DEBUG": "true",
        "TESTING": "true",
        "DOCINTEL_READ_DOT_ENV": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "8",
        "REDIS_URL": os.environ["REDIS_URL"],
        "LLM_BASE_URL": scripted_llm[0],
        "EMBEDDING_BASE_URL": embedding_url,
        "QDRANT_URL": qdrant_url,
        "QDRANT_COLLECTION_PREFIX": prefix,
        "DOCINTEL_NEMO_RAILS": "",
        "ANSWER_FIRST_TOKEN_TARGET": "10",
        "DOCINTEL_ANSWERS_CONCURRENT": str(CONCURRENT),
        "DOCINTEL_QUESTIONS_PER_MINUTE": "1000",  # the concurrency limit is under test here; the rate has its own test
        "LOG_LEVEL": "INFO",
    }
    proc = localservers.daphne_server(port=port, env=env, log_dir=server_logs).start(timeout=120)
    yield port, prefix, embedding_url, qdrant_url
    proc.stop()


async def _ask(url: str, token: str, origin: str) -> dict[str, Any]:
    async with websockets.connect(
        url, origin=Origin(origin), subprotocols=[Subprotocol("bearer"), Subprotocol(token)], open_timeout=20
    ) as ws:
        await ws.send(json.dumps({"type": "question", "text": QUESTION}))
        while True:
            event = json.loads(await asyncio.wait_for(ws.recv(), timeout=40))
            if event["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif event["type"] in ("answer", "error"):
                return dict(event)


def test_fifty_sockets_of_one_user_hold_the_concurrent_answer_quota(
    quota_daphne, scripted_llm, reader, finance, settings
):
    """Failed before: every socket was answered (50 Responses, no refusal, 50 streams at the model)."""
    port, prefix, embedding_url, qdrant_url = quota_daphne
    use_stack(settings, llm_url=scripted_llm[0], embedding_url=embedding_url, qdrant_url=qdrant_url)
    settings.QDRANT_COLLECTION_PREFIX = prefix
    doc = make_document(title="Kestrel reservoir facts", groups=[finance], language="en", mime_type="text/markdown")
    index_document(doc, PASSAGES, pages=[1, 2, 3])
    sessions = [ChatSession.objects.create(user=reader) for _ in range(CLIENTS)]
    token = str(AccessToken.for_user(reader))
    llm = scripted_llm[1]

    async def burst() -> list[dict[str, Any]]:
        origin = f"http://127.0.0.1:{port}"
        calls = [_ask(f"ws://127.0.0.1:{port}/ws/chat/{s.pk}", token, origin) for s in sessions]
        return await asyncio.wait_for(asyncio.gather(*calls), timeout=90)

    started = time.perf_counter()
    finals = asyncio.run(burst())
    elapsed = time.perf_counter() - started
    answered = [f for f in finals if f["type"] == "answer"]
    refused = [f for f in finals if f.get("code") == "rate_limited"]
    print(  # the load test's figures, shown with -s
        f"\nquota load: {CLIENTS} sockets, limit {CONCURRENT}: answered={len(answered)} refused={len(refused)} "
        f"other={CLIENTS - len(answered) - len(refused)} max_concurrent_llm_streams={llm.open_max} "
        f"elapsed={elapsed:.1f}s"
    )
    assert len(answered) + len(refused) == CLIENTS, [f for f in finals if f not in answered and f not in refused]
    assert llm.open_max <= CONCURRENT
    assert CONCURRENT <= len(answered) <= 4 * CONCURRENT  # a slot freed before the last question came in is reused
    assert all(f["retry_after"] >= 1 for f in refused)
    assert Query.objects.filter(user=reader).count() == len(answered)
