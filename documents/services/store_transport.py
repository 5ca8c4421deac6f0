"""A lean HTTP/1.1 transport for the app's clients of the vector store (``QDRANT_URL`` over plain ``http://``).

qdrant-client speaks REST through httpx, and httpx's default transport (httpcore and h11, with anyio under the async
client) spent about 0.3-0.45 ms of Python a request on a kept-alive loopback connection: more than Qdrant Edge spends
on a filtered search at 10k points (issue 12). These transports keep what httpx does above the transport (URLs,
headers, the API key, decoding, qdrant-client's models and errors) and replace only the wire: the request written in
one ``send``, the response head read up to the blank line, the body framed by ``Content-Length`` or chunked transfer
coding (or, without either, read up to the close). Connections are kept alive and reused, at most
``KEEPALIVE_CONNECTIONS`` idle ones, each dropped after ``KEEPALIVE_EXPIRY_S`` idle (before the store drops it, 10 s);
a kept-alive connection the server closed is found before reuse, and a request that met a closed reused connection
before any answer byte is sent once more on a new one. ``https://`` keeps httpx's own transport (TLS).

``QDRANT_HTTP_TRANSPORT=httpx`` goes back to httpx's transport everywhere.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Callable

import httpx

KEEPALIVE_CONNECTIONS = 4
KEEPALIVE_EXPIRY_S = 5.0
MAX_HEAD_BYTES = 64 * 1024
_NO_BODY_STATUS = frozenset({204, 304})
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"upgrade"})


class _Closed(Exception):
    """The server closed the connection before the first byte of an answer."""


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """Request line, the headers httpx built (framing replaced by ``Content-Length``) and the body, in one buffer."""
    url = request.url
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), url.raw_path)]
    lines.extend(name + b": " + value for name, value in request.headers.raw if name.lower() not in _HOP_BY_HOP)
    if body or request.method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Head:
    """A parsed response head: status, headers, and how the body is framed."""

    def __init__(self, raw: bytes, method: str) -> None:
        status_line, *header_lines = raw.split(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"malformed status line {status_line[:80]!r}")
        self.status = int(parts[1])
        self.headers: list[tuple[bytes, bytes]] = []
        length, chunked, close = None, False, parts[0] == b"HTTP/1.0"
        for line in header_lines:
            name, sep, value = line.partition(b":")
            if not sep:
                raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}")
            name, value = name.strip(), value.strip()
            self.headers.append((name, value))
            lower = name.lower()
            if lower == b"content-length":
                if not value.isdigit():
                    raise httpx.RemoteProtocolError(f"bad Content-Length {value[:40]!r}")
                length = int(value)
            elif lower == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif lower == b"connection":
                close = close or b"close" in value.lower()
        self.no_body = method == "HEAD" or self.status in _NO_BODY_STATUS or 100 <= self.status < 200
        self.chunked = chunked and not self.no_body
        self.length = None if (self.chunked or self.no_body) else length
        self.to_close = not self.no_body and not self.chunked and length is None  # read to the end: never reused
        self.keep = not close and not self.to_close

    def response(self, content: bytes, request: httpx.Request) -> httpx.Response:
        """The ``httpx.Response`` (httpx decodes a ``Content-Encoding`` as with its own transport)."""
        return httpx.Response(
            self.status,
            headers=self.headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None, float | None]:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("connect"), timeout.get("read"), timeout.get("write")


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()
    try:
        return int(size, 16)
    except ValueError:
        raise httpx.RemoteProtocolError(f"bad chunk size {size[:20]!r}") from None


class _SocketReader:
    """Buffered reads off a blocking socket: up to a delimiter, an exact count, or the end."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def until(self, delimiter: bytes, *, at_head: bool = False) -> bytes:
        """Bytes up to ``delimiter`` (dropped); at a response's head, a close before any byte raises ``_Closed``."""
        start = 0
        while (end := self.buffer.find(delimiter, start)) < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("response head too large")
            start = max(0, len(self.buffer) - len(delimiter) + 1)
            if not self._fill():
                if at_head and not self.buffer:
                    raise _Closed
                raise httpx.RemoteProtocolError("connection closed mid-answer")
        out = bytes(self.buffer[:end])
        del self.buffer[: end + len(delimiter)]
        return out

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self._fill():
                raise httpx.RemoteProtocolError("connection closed mid-body")
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def rest(self) -> bytes:
        while self._fill():
            pass
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


def _read_body(reader: _SocketReader, head: _Head) -> bytes:
    if head.no_body:
        return b""
    if head.length is not None:
        return reader.exactly(head.length)
    if not head.chunked:
        return reader.rest()
    parts = []
    while size := _chunk_size(reader.until(b"\r\n")):
        parts.append(reader.exactly(size))
        reader.exactly(2)
    while reader.until(b"\r\n"):  # trailers, up to the blank line
        pass
    return b"".join(parts)


def _server_closed(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket is readable: the server closed it (or sent what nobody asked for).

    ``poll``, not ``select``: a busy process (Daphne with many sockets) holds descriptors beyond ``select``'s 1024.
    """
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _errors(connect: bool) -> Callable[[OSError, httpx.Request], httpx.TransportError]:
    def convert(exc: OSError, request: httpx.Request) -> httpx.TransportError:
        if isinstance(exc, TimeoutError):
            kind: type[httpx.TransportError] = httpx.ConnectTimeout if connect else httpx.ReadTimeout
        else:
            kind = httpx.ConnectError if connect else httpx.ReadError
        return kind(f"{type(exc).__name__}: {exc}", request=request)

    return convert


class LeanTransport(httpx.BaseTransport):
    """httpx's ``BaseTransport`` for plain HTTP/1.1 with kept-alive connections (thread-safe)."""

    def __init__(self) -> None:
        """An empty pool: connections are opened on demand and kept alive."""
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int], list[tuple[socket.socket, _SocketReader, float]]] = {}

    def _checkout(self, key: tuple[str, int]) -> tuple[socket.socket, _SocketReader] | None:
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                sock, reader, since = idle.pop()
                if now - since < KEEPALIVE_EXPIRY_S and not reader.buffer and not _server_closed(sock):
                    return sock, reader
                sock.close()
        return None

    def _checkin(self, key: tuple[str, int], sock: socket.socket, reader: _SocketReader) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < KEEPALIVE_CONNECTIONS:
                idle.append((sock, reader, time.monotonic()))
                return
        sock.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a kept-alive connection (a new one if none is idle) and read the whole answer.

        Raises:
            httpx.UnsupportedProtocol: for a URL that is not ``http://``.
            httpx.TransportError: the connection failed, timed out or the answer is not HTTP/1.1.
        """
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"LeanTransport serves http:// only, not {request.url.scheme}://")
        key = (request.url.host, request.url.port or 80)
        data = _request_bytes(request, request.read())
        connect_timeout, read_timeout, _ = _timeouts(request)
        reused = self._checkout(key)
        while True:
            if reused is None:
                try:
                    sock = socket.create_connection(key, timeout=connect_timeout)
                except OSError as exc:
                    raise _errors(connect=True)(exc, request) from exc
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader = _SocketReader(sock)
            else:
                sock, reader = reused
            try:
                sock.settimeout(read_timeout)
                sock.sendall(data)
                head = _Head(reader.until(b"\r\n\r\n", at_head=True), request.method)
            except (_Closed, BrokenPipeError, ConnectionResetError) as exc:
                sock.close()
                if reused is not None and not reader.buffer:
                    reused = None  # the server closed a kept-alive connection as the request went out: once more
                    continue
                if isinstance(exc, _Closed):
                    raise httpx.RemoteProtocolError("server closed the connection without answering") from None
                raise _errors(connect=False)(exc, request) from exc
            except OSError as exc:
                sock.close()
                raise _errors(connect=False)(exc, request) from exc
            except BaseException:
                sock.close()
                raise
            break
        try:
            content = _read_body(reader, head)
        except OSError as exc:
            sock.close()
            raise _errors(connect=False)(exc, request) from exc
        except BaseException:
            sock.close()
            raise
        if head.keep:
            self._checkin(key, sock, reader)
        else:
            sock.close()
        return head.response(content, request)

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for sock, _, _ in connections:
                sock.close()


async def _read_body_async(reader: asyncio.StreamReader, head: _Head) -> bytes:
    if head.no_body:
        return b""
    if head.length is not None:
        return await reader.readexactly(head.length)
    if not head.chunked:
        return await reader.read()
    parts = []
    while size := _chunk_size(await reader.readuntil(b"\r\n")):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, up to the blank line
        pass
    return b"".join(parts)


_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class AsyncLeanTransport(httpx.AsyncBaseTransport):
    """httpx's ``AsyncBaseTransport`` for plain HTTP/1.1 on asyncio streams, kept alive (one event loop's)."""

    def __init__(self) -> None:
        """An empty pool; its connections belong to the loop that opened them (others are not reused)."""
        self._idle: dict[tuple[str, int], list[tuple[_Stream, asyncio.AbstractEventLoop, float]]] = {}

    def _checkout(self, key: tuple[str, int]) -> _Stream | None:
        now, loop = time.monotonic(), asyncio.get_running_loop()
        idle = self._idle.get(key, [])
        while idle:
            (reader, writer), owner, since = idle.pop()
            fresh = now - since < KEEPALIVE_EXPIRY_S and owner is loop
            unread = getattr(reader, "_buffer", b"")  # bytes nobody asked for: the connection is out of step
            if fresh and not reader.at_eof() and not writer.is_closing() and not unread:
                return reader, writer
            if owner is loop:
                writer.close()
            # another loop's connection (the app keeps a client a loop, so only after a loop was replaced) is
            # dropped without a call into that loop, which may be closed
        return None

    def _checkin(self, key: tuple[str, int], stream: _Stream) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) < KEEPALIVE_CONNECTIONS:
            idle.append((stream, asyncio.get_running_loop(), time.monotonic()))
        else:
            stream[1].close()

    async def _head(self, stream: _Stream, data: bytes, request: httpx.Request, timeout: float | None) -> _Head:
        reader, writer = stream
        async with asyncio.timeout(timeout):
            writer.write(data)
            await writer.drain()
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    raise _Closed from None
                raise httpx.RemoteProtocolError("connection closed mid-answer") from None
            except asyncio.LimitOverrunError:
                raise httpx.RemoteProtocolError("response head too large") from None
        return _Head(raw[:-4], request.method)

    @staticmethod
    async def _body(stream: _Stream, head: _Head, timeout: float | None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await _read_body_async(stream[0], head)
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError("connection closed mid-body") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("chunk size line too long") from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a kept-alive connection (a new one if none is idle) and read the whole answer.

        Raises:
            httpx.UnsupportedProtocol: for a URL that is not ``http://``.
            httpx.TransportError: the connection failed, timed out or the answer is not HTTP/1.1.
        """
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"AsyncLeanTransport serves http:// only, not {request.url.scheme}://")
        key = (request.url.host, request.url.port or 80)
        data = _request_bytes(request, await request.aread())
        connect_timeout, read_timeout, _ = _timeouts(request)
        stream = self._checkout(key)
        reused = stream is not None
        while True:
            if stream is None:
                try:
                    async with asyncio.timeout(connect_timeout):
                        stream = await asyncio.open_connection(*key, limit=MAX_HEAD_BYTES)
                except (OSError, TimeoutError) as exc:
                    raise _errors(connect=True)(exc, request) from exc
            try:
                head = await self._head(stream, data, request, read_timeout)
            except (_Closed, BrokenPipeError, ConnectionResetError) as exc:
                stream[1].transport.abort()
                if reused:  # the server closed a kept-alive connection as the request went out
                    stream, reused = None, False
                    continue
                if isinstance(exc, _Closed):
                    raise httpx.RemoteProtocolError("server closed the connection without answering") from None
                raise _errors(connect=False)(exc, request) from exc
            except (OSError, TimeoutError) as exc:
                stream[1].transport.abort()
                raise _errors(connect=False)(exc, request) from exc
            except BaseException:
                stream[1].transport.abort()
                raise
            break
        try:
            content = await self._body(stream, head, read_timeout)
        except (OSError, TimeoutError) as exc:
            stream[1].transport.abort()
            raise _errors(connect=False)(exc, request) from exc
        except BaseException:
            stream[1].transport.abort()
            raise
        if head.keep:
            self._checkin(key, stream)
        else:
            stream[1].close()
        return head.response(content, request)

    async def aclose(self) -> None:
        """Close every idle connection of the running loop (another loop's are dropped)."""
        idle, self._idle = self._idle, {}
        loop = asyncio.get_running_loop()
        for connections in idle.values():
            for (_, writer), owner, _ in connections:
                if owner is loop:
                    writer.close()
