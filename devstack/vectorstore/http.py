"""The store's HTTP/1.1 server: a few lines of parsing on raw sockets, threads that accept for themselves.

qdrant-client turns keep-alive off for ``localhost``/``127.0.0.1``; the app's clients turn it back on
(``documents.services.vectorstore.client_limits``), and a client that does not opens one connection per request.
``http.server`` spent a connection's set-up on a new thread per connection, buffered
file objects and the e-mail header parser; here a small pool of threads blocks in ``accept()`` on the listening socket
(the kernel hands each connection to one of them), the thread that accepted a connection serves it (no hand-off) and a
new acceptor is started only when none is left idle. Requests on a kept-alive connection are served in turn; a
kept-alive connection left idle for ``KEEPALIVE_IDLE_S`` is closed (its thread goes back to accepting or retires).

Bounds: a request head is at most ``MAX_HEAD_BYTES``, a body at most ``max_body`` (413), a body needs a valid
``Content-Length`` (a missing one means no body; negative, signed, non-numeric or chunked get 400), a client that
stops sending is dropped after ``READ_TIMEOUT_S``, at most ``MAX_CONNECTIONS`` connections are served at once (then
503). Every refusal is Qdrant's error envelope with a 4xx (or 503), never a hang.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import orjson
import structlog

log = structlog.get_logger(__name__)

MAX_CONNECTIONS = 64
MAX_HEAD_BYTES = 64 * 1024
READ_TIMEOUT_S = 30.0
KEEPALIVE_IDLE_S = 10.0  # longer than the app's clients keep an idle connection (5 s): they never reuse a closing one
IDLE_ACCEPTORS = 2  # threads kept waiting in accept(); more are started while every one is busy
_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"})
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


@dataclass(frozen=True)
class Request:
    """One parsed request: what the app needs to answer it."""

    method: str
    path: str  # as sent (percent-escaped), without the query string or a trailing slash ("/" for the root)
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(message: str) -> bytes:
    """Qdrant's error envelope."""
    return orjson.dumps({"status": {"error": message}, "time": 0.0})


def response_bytes(status: int, body: bytes, *, kind: bytes = b"application/json", close: bool = False) -> bytes:
    """Status line, headers and body in one buffer (one write: no Nagle / delayed-ACK stall between segments)."""
    head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
        status,
        _PHRASES.get(status, "Unknown").encode(),
        kind,
        len(body),
        b"Connection: close\r\n" if close else b"",
    )
    return head + body


# An answer is (status, body bytes, content type) or a file to stream (snapshots).
Answer = tuple[int, bytes, bytes] | Path
Handler = Callable[[Request], Answer]
Authorize = Callable[[Request], bool]


class _Connection:
    """Reads requests off one socket: a head up to the blank line, then exactly ``Content-Length`` body bytes."""

    def __init__(self, sock: socket.socket, max_body: int) -> None:
        self.sock = sock
        self.max_body = max_body
        self.buffer = bytearray()

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_head(self) -> tuple[str, str, str, dict[str, str]] | None:
        """Request line and headers of the next request; ``None`` when the client closed the connection."""
        while True:
            while self.buffer[:2] == b"\r\n":  # stray CRLFs between requests are ignored (RFC 9112 2.2)
                del self.buffer[:2]
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise _Refused(431, "Request header fields too large")
            if not self._fill():
                if self.buffer.strip():
                    raise _Refused(400, "Bad request: incomplete request head")
                return None
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        line, _, rest = head.partition("\r\n")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[1]:
            raise _Refused(400, f"Bad request syntax: {line[:100]!r}")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _Refused(400, f"Unsupported HTTP version: {version[:20]}")
        headers: dict[str, str] = {}
        for field in rest.split("\r\n") if rest else ():
            name, sep, value = field.partition(":")
            if not sep or not name or name != name.strip():
                raise _Refused(400, "Bad request: malformed header")
            headers[name.lower()] = value.strip()
        return method, target, version, headers

    def read_body(self, length: int) -> bytes:
        if len(self.buffer) >= length:
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            return body
        body_buffer = bytearray(length)
        view = memoryview(body_buffer)
        got = len(self.buffer)
        view[:got] = self.buffer
        self.buffer.clear()
        while got < length:
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise ConnectionError("client closed the connection mid-body")
            got += n
        return bytes(body_buffer)


def _content_length(headers: dict[str, str], max_body: int) -> int:
    if "transfer-encoding" in headers:
        raise _Refused(400, "Bad request: chunked bodies are not accepted")
    raw = headers.get("content-length")
    if raw is None:
        return 0
    if not raw.isdigit() or not raw.isascii():  # negative, signed or not a number
        raise _Refused(400, "Bad request: invalid Content-Length")
    length = int(raw)
    if length > max_body:
        raise _Refused(413, "Payload too large")
    return length


class HTTPServer:
    """Serve ``handler`` on ``host:port`` until ``shutdown()``; ``authorize`` gates every request it is asked about."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        handler: Handler,
        authorize: Authorize,
        open_paths: frozenset[str],
        max_body: int,
    ) -> None:
        """Bind the listening socket (threads start with :meth:`start`).

        Args:
            host: the address to bind (``127.0.0.1`` for the embedded store).
            port: the port; 0 picks a free one (see :attr:`port`).
            handler: answers one authorised request.
            authorize: whether a request may be served (the API key check).
            open_paths: paths served without asking ``authorize`` (health probes).
            max_body: the largest body accepted (413 beyond).
        """
        self.handler = handler
        self.authorize = authorize
        self.open_paths = open_paths
        self.max_body = max_body
        self.sock = socket.create_server((host, port), backlog=256)
        self.lock = threading.Lock()
        self.idle = 0
        self.busy = 0
        self.threads = 0
        self.accepted = 0  # connections accepted since start (clients that keep theirs alive open few)
        self.stopping = threading.Event()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        """Start the idle acceptor threads; more start while every one is busy (up to the connection cap)."""
        for _ in range(IDLE_ACCEPTORS):
            self._spawn()

    def _spawn(self) -> None:
        with self.lock:
            self.threads += 1
        threading.Thread(target=self._accept_loop, name="vectorstore-http", daemon=True).start()

    def shutdown(self) -> None:
        """Stop accepting and close the listening socket; connections being served finish their request."""
        self.stopping.set()
        with contextlib.suppress(OSError):  # already closed
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked in accept()
        self.sock.close()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                self.idle += 1
            try:
                conn, _ = self.sock.accept()
            except OSError:
                with self.lock:
                    self.idle -= 1
                    self.threads -= 1
                return
            with self.lock:
                self.idle -= 1
                self.busy += 1
                self.accepted += 1
                full = self.busy > MAX_CONNECTIONS
                grow = self.idle == 0 and self.threads <= MAX_CONNECTIONS
            if grow:
                self._spawn()
            try:
                if full:
                    conn.sendall(response_bytes(503, error_body("Too many connections"), close=True))
                else:
                    self._serve(conn)
            except (OSError, ConnectionError):
                pass  # the client went away or timed out: nothing to answer
            finally:
                conn.close()
                with self.lock:
                    self.busy -= 1
                    retire = self.idle >= IDLE_ACCEPTORS
                    if retire:
                        self.threads -= 1
            if retire:
                return

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(READ_TIMEOUT_S)  # a client that stops sending gets its connection closed, no thread hangs
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = _Connection(sock, self.max_body)
        served = False
        while True:
            try:
                if served:  # waiting for the next request of a kept-alive connection
                    sock.settimeout(KEEPALIVE_IDLE_S)
                head = connection.read_head()
                if head is None:
                    return
                sock.settimeout(READ_TIMEOUT_S)
                method, target, version, headers = head
                if method not in _METHODS:
                    raise _Refused(405, f"Method not allowed: {method[:20]}")
                length = _content_length(headers, self.max_body)
                if headers.get("expect", "").lower() == "100-continue" and length:
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            except _Refused as refused:
                sock.sendall(response_bytes(refused.status, error_body(refused.message), close=True))
                return
            connection_header = headers.get("connection", "").lower()
            close = connection_header == "close" or (version == "HTTP/1.0" and connection_header != "keep-alive")
            path = target.split("?", 1)[0].rstrip("/") or "/"  # percent-escapes are decoded by the router
            request = Request(method=method, path=path, headers=headers, body=b"")
            if path not in self.open_paths and not self.authorize(request):
                connection.read_body(length)  # drained: the connection stays usable
                error = "Must provide an API key or an Authorization bearer token"
                sock.sendall(response_bytes(401, error_body(error), close=close))
            else:
                request = Request(method=method, path=path, headers=headers, body=connection.read_body(length))
                self._answer(sock, request, close=close)
            if close:
                return
            served = True

    def _answer(self, sock: socket.socket, request: Request, *, close: bool) -> None:
        answer = self.handler(request)
        if isinstance(answer, Path):
            size = answer.stat().st_size
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n%s\r\n"
                % (size, b"Connection: close\r\n" if close else b"")
            )
            with answer.open("rb") as fh:
                sock.sendfile(fh)
            return
        status, body, kind = answer
        if request.method == "HEAD":
            sock.sendall(response_bytes(status, body, kind=kind, close=close)[: -len(body) or None])
        else:
            sock.sendall(response_bytes(status, body, kind=kind, close=close))


def serve_until_stopped(server: HTTPServer, ready: Callable[[], None] | None = None) -> Any:
    """Start ``server``'s threads and block (signals interrupt the wait) until ``server.stopping`` is set."""
    server.start()
    if ready is not None:
        ready()
    while not server.stopping.wait(1.0):
        pass
