"""The lean HTTP/1.1 transport of the app's clients of the vector store (sync and async).

Against a scripted socket server (each answer written byte for byte, so framing, closes and stalls are exact) and the
store itself: bodies framed by Content-Length, chunked coding and the close; no body for HEAD and 204; gzip decoded
by httpx as with its own transport; connections kept alive and reused, a closed one replaced (the request sent once
more only when no answer byte came); errors as httpx's (timeouts, refusals, broken answers), which qdrant-client and
``store_errors_as_transient`` turn into the app's ``VectorStoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson
import pytest

from documents.services.store_transport import AsyncLeanTransport, LeanTransport

GREEK = "Ποια είναι η προθεσμία υποβολής της αίτησης;"
ENGLISH = "What is the deadline for the application?"

# a reply: bytes to write, then whether to close the connection after it
Reply = tuple[bytes, bool]


class ScriptedServer:
    """Reads each request (head and Content-Length body) and writes what ``script(n, request)`` returns.

    ``n`` counts requests over every connection; ``accepted`` counts connections; ``requests`` keeps each request.
    """

    def __init__(self, script: Callable[[int, bytes], Reply | None]) -> None:
        self.script = script
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.requests: list[bytes] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                request, buffer = head + b"\r\n\r\n" + buffer[:length], buffer[length:]
                with self.lock:
                    n = len(self.requests)
                    self.requests.append(request)
                reply = self.script(n, request)
                if reply is None:  # never answer: the client's read times out
                    threading.Event().wait(5)
                    return
                data, close = reply
                conn.sendall(data)
                if close:
                    return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.sock.close()


@contextmanager
def scripted(script: Callable[[int, bytes], Reply | None]) -> Iterator[ScriptedServer]:
    server = ScriptedServer(script)
    try:
        yield server
    finally:
        server.close()


def _json(body: Any, *extra: bytes) -> bytes:
    data = orjson.dumps(body)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    return head + b"".join(e + b"\r\n" for e in extra) + b"\r\n" + data


def _chunked(data: bytes, sizes: tuple[int, ...] = (7, 1, 1000)) -> bytes:
    out, start = b"", 0
    for size in sizes:
        part = data[start : start + size]
        start += size
        if part:
            out += b"%x;ext=1\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


def _get(url: str, path: str, *, asynchronous: bool, method: str = "GET", timeout: float = 5.0, **kw: Any) -> Any:
    """``method path`` twice through one client on the lean transport; the two ``httpx.Response``s."""
    if not asynchronous:
        with httpx.Client(transport=LeanTransport(), timeout=timeout) as client:
            return [client.request(method, url + path, **kw) for _ in range(2)]

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=AsyncLeanTransport(), timeout=timeout) as client:
            return [await client.request(method, url + path, **kw) for _ in range(2)]

    return asyncio.run(run())


MODES = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])


@MODES
def test_content_length_answers_reuse_one_connection_and_send_the_body(asynchronous):
    with scripted(lambda n, req: (_json({"n": n, "q": orjson.loads(req.split(b"\r\n\r\n", 1)[1])}), False)) as srv:
        first, second = _get(
            srv.url, "/collections/a%2Fb/points/query", asynchronous=asynchronous, method="POST", json={"q": GREEK}
        )
        assert first.json() == {"n": 0, "q": {"q": GREEK}} and second.json() == {"n": 1, "q": {"q": GREEK}}
        assert first.http_version == "HTTP/1.1" and first.headers["content-type"] == "application/json"
        assert srv.accepted == 1  # kept alive
        line, *headers = srv.requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
        assert line == b"POST /collections/a%2Fb/points/query HTTP/1.1"  # the path as escaped, unchanged
        names = [h.split(b":")[0].lower() for h in headers]
        assert names.count(b"content-length") == 1 and b"host" in names and b"transfer-encoding" not in names


@MODES
def test_chunked_answers_with_extensions_and_trailers_are_decoded(asynchronous):
    data = orjson.dumps({"result": {"points": [{"payload": {"text": GREEK}}, {"payload": {"text": ENGLISH}}]}})
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" + _chunked(data)
    with scripted(lambda n, req: (reply, False)) as srv:
        first, second = _get(srv.url, "/", asynchronous=asynchronous)
        assert first.content == data and second.json()["result"]["points"][0]["payload"]["text"] == GREEK
        assert srv.accepted == 1  # a chunked answer ends at its last chunk: the connection is reused


@MODES
def test_an_answer_without_framing_is_read_to_the_close_and_its_connection_not_reused(asynchronous):
    with scripted(lambda n, req: (b"HTTP/1.1 200 OK\r\n\r\n" + ENGLISH.encode(), True)) as srv:
        first, second = _get(srv.url, "/", asynchronous=asynchronous)
        assert first.text == ENGLISH == second.text
        assert srv.accepted == 2


@MODES
def test_connection_close_and_http_1_0_answers_are_not_reused(asynchronous):
    answers = [_json({"a": 1}, b"Connection: close"), _json({"a": 2}).replace(b"HTTP/1.1", b"HTTP/1.0", 1)]
    with scripted(lambda n, req: (answers[n % 2], False)) as srv:  # the server would serve more: the client won't
        first, second = _get(srv.url, "/", asynchronous=asynchronous)
        assert (first.json(), second.json()) == ({"a": 1}, {"a": 2})
        assert srv.accepted == 2


@MODES
def test_head_and_204_answers_have_no_body_and_keep_the_connection(asynchronous):
    with scripted(lambda n, req: (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", False)) as srv:
        first, second = _get(srv.url, "/", asynchronous=asynchronous, method="HEAD")
        assert first.status_code == 200 and first.content == b"" == second.content
        assert srv.accepted == 1
    with scripted(lambda n, req: (b"HTTP/1.1 204 No Content\r\n\r\n", False)) as srv:
        first, second = _get(srv.url, "/", asynchronous=asynchronous, method="DELETE")
        assert first.status_code == 204 == second.status_code and srv.accepted == 1


@MODES
def test_a_gzip_answer_is_decoded_as_httpx_decodes_it(asynchronous):
    data = gzip.compress(orjson.dumps({"text": GREEK}))
    reply = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
    with scripted(lambda n, req: (reply, False)) as srv:
        first, _ = _get(srv.url, "/", asynchronous=asynchronous)
        assert first.json() == {"text": GREEK}


@MODES
def test_a_kept_alive_connection_the_server_closed_is_replaced_without_losing_the_request(asynchronous):
    """The server answers, then closes: the idle connection is found closed (or fails at once) and a new one is used."""
    with scripted(lambda n, req: (_json({"n": n}), True)) as srv:  # closes without telling the client
        first, second = _get(srv.url, "/", asynchronous=asynchronous)
        assert (first.json(), second.json()) == ({"n": 0}, {"n": 1})
        assert srv.accepted == 2 and len(srv.requests) == 2  # each request served once


def test_a_request_that_met_a_closing_kept_alive_connection_is_sent_once_more(monkeypatch):
    """The race the readability check cannot see: the close lands after the check; the request goes out again."""
    from documents.services import store_transport

    monkeypatch.setattr(store_transport, "_server_closed", lambda sock: False)
    with scripted(lambda n, req: (_json({"n": n}), True)) as srv:
        first, second = _get(srv.url, "/", asynchronous=False)
        assert (first.json(), second.json()) == ({"n": 0}, {"n": 1})
        assert srv.accepted == 2 and len(srv.requests) == 2


@MODES
def test_an_answer_cut_mid_body_is_an_error_and_not_sent_again(asynchronous):
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b'{"result": '
    with scripted(lambda n, req: (cut, True)) as srv:
        with pytest.raises(httpx.RemoteProtocolError, match="mid-body"):
            _get(srv.url, "/", asynchronous=asynchronous)
        assert len(srv.requests) == 1
    chunked_cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"
    with scripted(lambda n, req: (chunked_cut, True)) as srv:
        with pytest.raises(httpx.RemoteProtocolError):
            _get(srv.url, "/", asynchronous=asynchronous)
        assert len(srv.requests) == 1


@MODES
def test_a_new_connection_closed_without_an_answer_is_an_error(asynchronous):
    with scripted(lambda n, req: (b"", True)) as srv:
        with pytest.raises(httpx.RemoteProtocolError, match="without answering"):
            _get(srv.url, "/", asynchronous=asynchronous)
        assert len(srv.requests) == 1  # not retried: the connection was new


@MODES
@pytest.mark.parametrize(
    "reply",
    [
        b"HTTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_a_malformed_answer_is_a_protocol_error(asynchronous, reply):
    with scripted(lambda n, req: (reply, True)) as srv, pytest.raises(httpx.RemoteProtocolError):
        _get(srv.url, "/", asynchronous=asynchronous)


@MODES
def test_a_server_that_never_answers_times_out(asynchronous):
    with scripted(lambda n, req: None) as srv, pytest.raises(httpx.ReadTimeout):
        _get(srv.url, "/", asynchronous=asynchronous, timeout=0.3)


@MODES
def test_a_refused_connection_is_a_connect_error_and_https_is_refused(asynchronous):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(httpx.ConnectError):
            _get(f"http://127.0.0.1:{port}", "/", asynchronous=asynchronous)
    with pytest.raises(httpx.UnsupportedProtocol):
        _get("https://127.0.0.1:1", "/", asynchronous=asynchronous)


def test_client_connection_chooses_the_transport(settings):
    from documents.services.vectorstore import client_connection

    settings.QDRANT_HTTP_TRANSPORT = "lean"
    assert isinstance(client_connection("http://127.0.0.1:6333")["transport"], LeanTransport)
    assert isinstance(client_connection("http://qdrant:6333", asynchronous=True)["transport"], AsyncLeanTransport)
    assert set(client_connection("https://qdrant.example:6333")) == {"limits"}  # TLS: httpx's own transport
    settings.QDRANT_HTTP_TRANSPORT = "httpx"
    assert set(client_connection("http://127.0.0.1:6333")) == {"limits"}


def _collection(client: Any, name: str) -> None:
    from qdrant_client import models

    client.create_collection(
        name, vectors_config={"dense": models.VectorParams(size=4, distance=models.Distance.COSINE)}
    )
    client.upsert(
        name,
        points=[
            models.PointStruct(id=i + 1, vector={"dense": [1.0, 0.1 * i, 0.0, 0.5]}, payload={"text": text, "n": i})
            for i, text in enumerate((GREEK, ENGLISH) * 30)
        ],
        wait=True,
    )


def test_the_apps_clients_on_the_lean_transport_answer_as_on_httpx_through_the_store(qdrant_url, settings):
    """qdrant-client, sync and async, against ``manage.py vectorstore``: every answer equal to httpx's, Greek intact."""
    from qdrant_client import AsyncQdrantClient, QdrantClient

    from documents.services.vectorstore import client_connection, client_limits

    settings.QDRANT_HTTP_TRANSPORT = "lean"
    name = f"transport_{uuid.uuid4().hex[:8]}"
    lean = QdrantClient(url=qdrant_url, check_compatibility=False, **client_connection(qdrant_url))
    plain = QdrantClient(url=qdrant_url, check_compatibility=False, limits=client_limits())
    _collection(lean, name)
    try:
        query = [1.0, 0.5, 0.0, 0.5]
        ours = lean.query_points(name, query=query, using="dense", limit=60)
        theirs = plain.query_points(name, query=query, using="dense", limit=60)
        assert [(p.id, p.score, p.payload) for p in ours.points] == [(p.id, p.score, p.payload) for p in theirs.points]
        assert {(p.payload or {})["text"] for p in ours.points} == {GREEK, ENGLISH}
        assert lean.scroll(name, limit=100)[0] == plain.scroll(name, limit=100)[0]
        assert lean.count(name).count == 60

        async def both() -> tuple[Any, Any]:
            alean = AsyncQdrantClient(
                url=qdrant_url, check_compatibility=False, **client_connection(qdrant_url, asynchronous=True)
            )
            try:
                got = await alean.query_points(name, query=query, using="dense", limit=60)
                missing = await alean.collection_exists(f"{name}_missing")
            finally:
                await alean.close()
            return got, missing

        got, missing = asyncio.run(both())
        assert [(p.id, p.payload) for p in got.points] == [(p.id, p.payload) for p in ours.points] and not missing
    finally:
        lean.delete_collection(name)
        lean.close()
        plain.close()


def test_an_unreachable_store_on_the_lean_transport_is_vector_store_unavailable(settings):
    from docintel.errors import VectorStoreUnavailable
    from documents.services import vectorstore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        settings.QDRANT_URL = f"http://127.0.0.1:{s.getsockname()[1]}"
        settings.QDRANT_HTTP_TRANSPORT = "lean"
        client = vectorstore.qdrant_client()
        remote: Any = client._client
        assert isinstance(remote.openapi_client.client._client._transport, LeanTransport)
        with pytest.raises(VectorStoreUnavailable), vectorstore.store_errors_as_transient():
            client.get_collections()


def test_the_closed_check_works_on_a_descriptor_beyond_selects_1024():
    """The idle check tells open from closed on a descriptor above 1024, as a web process with many sockets has.

    ``select`` refuses such a descriptor, which would have dropped every kept-alive connection.
    """
    import os

    from documents.services.store_transport import _server_closed

    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    peer, _ = listener.accept()
    high = os.dup2(client.fileno(), 1500)
    sock = socket.socket(fileno=high)
    try:
        assert sock.fileno() > 1024
        assert _server_closed(sock) is False  # open and idle: reusable
        peer.close()
        assert _server_closed(sock) is True  # the server closed it
    finally:
        sock.close()
        client.close()
        listener.close()
