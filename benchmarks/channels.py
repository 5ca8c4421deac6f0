"""What Channels adds per streamed token: N concurrent chat sockets on one Daphne process, fed by a fast stand-in.

Run: ``python -m benchmarks.channels [--sessions 100 --tokens 40 --interval-ms 10]``.

A stand-in OpenAI-compatible server streams ``/v1/chat/completions``; every token carries the wall-clock time it was
written. Two clients read the same streams, with the same concurrency:

* direct: N SSE clients read the stand-in themselves (the baseline: HTTP, the stand-in's own pacing, this machine);
* channels: N WebSocket clients on ``/ws/chat/{id}`` (JWT subprotocol) of one Daphne serving ``docintel.asgi``; its
  consumer forwards the events of an answering function that streams from the stand-in (retrieval and guards
  are left out on purpose: they are paid once per answer, not per token).

Latency per token = receive time - write time; "added by Channels" = channels - direct at p50 and p95.
Daphne uses a throw-away SQLite database (users, sessions) and the in-memory channel layer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


# --- Stand-in OpenAI-compatible server (asyncio streams only) ------------------------------------------------------
async def _standin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tokens: int, interval: float) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length:
            await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Connection: close\r\n\r\n")  # fmt: skip
        for _ in range(tokens):
            await asyncio.sleep(interval)
            delta = {"choices": [{"index": 0, "delta": {"content": f" {time.time_ns()}"}, "finish_reason": None}]}
            writer.write(b"data: " + json.dumps(delta).encode() + b"\n\n")
            await writer.drain()
        writer.write(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


# --- What Daphne runs: docintel.asgi with an answering function that streams from the stand-in ---------------------
async def standin_answer_stream(
    *, user: Any, text: str, session: Any, cancel: asyncio.Event, ctx: Any
) -> AsyncIterator[Any]:
    """Stand in for ``chat.consumers.answer_stream`` in Daphne: one token event per stand-in token, then the answer.

    Retrieval and guards are left out: they are paid once per answer, and this measures the cost per token.

    Args:
        user: The signed-in user (unused: no retrieval).
        text: The question, sent to the stand-in as the user message.
        session: The chat session (unused).
        cancel: Set when the socket closes; the stream stops at the next token.
        ctx: Where the question came from (unused: no audit row).

    Yields:
        ``{"type": "token", ...}`` events carrying the stand-in's write times, then one ``completed`` answer event.
    """
    import httpx

    url = os.environ["BENCH_STANDIN_URL"]
    parts = []
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"model": "standin", "stream": True, "messages": [{"role": "user", "content": text}]}
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                content = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if content:
                    parts.append(content)
                    yield {"type": "token", "text": content}
                if cancel.is_set():
                    break
    yield {"type": "answer", "text": "".join(parts), "citations": [], "response_id": 0, "query_id": 0,
           "status": "completed"}  # fmt: skip


def __getattr__(name: str) -> Any:
    """``daphne benchmarks.channels:application`` (only in the Daphne process this benchmark starts)."""
    if name != "application":
        raise AttributeError(name)
    import chat.consumers
    from docintel.asgi import application

    chat.consumers.answer_stream = standin_answer_stream
    return application


# --- Clients -------------------------------------------------------------------------------------------------------
def _latency_ms(text: str, received_ns: int) -> float:
    return (received_ns - int(text.strip())) / 1e6


async def _direct(url: str, n: int) -> list[float]:
    import httpx

    async def one(client: httpx.AsyncClient) -> list[float]:
        out = []
        body = {"model": "standin", "stream": True, "messages": [{"role": "user", "content": "q"}]}
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    content = json.loads(line[6:])["choices"][0]["delta"].get("content")
                    if content:
                        out.append(_latency_ms(content, time.time_ns()))
        return out

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        results = await asyncio.gather(*(one(client) for _ in range(n)))
    return [x for r in results for x in r]


async def _channels(ws_base: str, origin: str, tokens: list[tuple[str, str]]) -> tuple[list[float], int]:
    import websockets
    from websockets.typing import Origin, Subprotocol

    async def one(session_id: str, token: str) -> tuple[list[float], bool]:
        out: list[float] = []
        async with websockets.connect(
            f"{ws_base}/ws/chat/{session_id}",
            origin=Origin(origin),
            subprotocols=[Subprotocol("bearer"), Subprotocol(token)],
            open_timeout=60,
        ) as ws:
            await ws.send(json.dumps({"type": "question", "text": "q"}))
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
                if event["type"] == "token":
                    out.append(_latency_ms(event["text"], time.time_ns()))
                elif event["type"] == "ping":
                    await ws.send('{"type": "pong"}')
                else:
                    return out, event["type"] == "answer"

    results = await asyncio.gather(*(one(s, t) for s, t in tokens))
    return [x for r, _ in results for x in r], sum(1 for _, ok in results if ok)


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


# --- Orchestration -------------------------------------------------------------------------------------------------
def _prepare_database(env: dict[str, str], sessions: int) -> list[tuple[str, str]]:
    """Migrate the throw-away database; one reader with ``sessions`` chat sessions and a JWT."""
    import subprocess

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
    import django

    django.setup()
    from rest_framework_simplejwt.tokens import AccessToken

    from chat.models import ChatSession
    from docintel.models import User

    user = User.objects.create_user("bench@example.com", "pw-bench-1")
    token = str(AccessToken.for_user(user))
    return [(str(ChatSession.objects.create(user=user).pk), token) for _ in range(sessions)]


async def _serve_standin(tokens: int, interval: float) -> tuple[asyncio.Server, int]:
    from devstack.localservers import free_port

    port = free_port()
    server = await asyncio.start_server(lambda r, w: _standin(r, w, tokens, interval), "127.0.0.1", port, backlog=512)
    return server, port


def run(*, sessions: int, tokens: int, interval_ms: float) -> dict[str, Any]:
    """Measure per-token latency direct from the stand-in and through Channels, with the same concurrency.

    Args:
        sessions: Concurrent clients (SSE clients direct, WebSocket chat sessions through Daphne).
        tokens: Tokens the stand-in streams per answer.
        interval_ms: Milliseconds the stand-in waits before each token.

    Returns:
        The figures: answers completed, tokens received, throughput, and p50/p95 in ms of the direct baseline, of
        Channels, and the difference ("added by Channels").
    """
    from devstack import localservers

    workdir = Path(tempfile.mkdtemp(prefix="bench-channels-"))
    env = {
        "DEBUG": "true",
        "DOCINTEL_READ_DOT_ENV": "0",
        "TESTING": "true",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
    }
    pairs = _prepare_database(env, sessions)

    async def scenario() -> dict[str, Any]:
        server, standin_port = await _serve_standin(tokens, interval_ms / 1000)
        url = f"http://127.0.0.1:{standin_port}/v1/chat/completions"
        port = localservers.free_port()
        daphne_exe = str(Path(sys.executable).with_name("daphne"))
        daphne = localservers.ManagedProcess(
            name="daphne-bench",
            argv=[daphne_exe, "-b", "127.0.0.1", "-p", str(port), "benchmarks.channels:application"],
            env={**os.environ, **env, "BENCH_STANDIN_URL": url},
            ready=lambda: localservers.port_open(port),
            log_path=workdir / "daphne.log",
        )
        await asyncio.to_thread(daphne.start, timeout=60)
        try:
            await _channels(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}", pairs[:2])  # warm-up
            direct = await _direct(url, sessions)
            started = time.perf_counter()
            via_channels, completed = await _channels(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}", pairs)
            wall = time.perf_counter() - started
        finally:
            daphne.stop()
            server.close()
        return {
            "sessions": sessions,
            "tokens_per_session": tokens,
            "token_interval_ms": interval_ms,
            "answers_completed": completed,
            "tokens_received": len(via_channels),
            "throughput_tokens_per_s": round(len(via_channels) / wall, 1),
            "direct_ms": {"p50": round(_pct(direct, 50), 3), "p95": round(_pct(direct, 95), 3)},
            "channels_ms": {"p50": round(_pct(via_channels, 50), 3), "p95": round(_pct(via_channels, 95), 3)},
            "added_by_channels_ms": {
                "p50": round(_pct(via_channels, 50) - _pct(direct, 50), 3),
                "p95": round(_pct(via_channels, 95) - _pct(direct, 95), 3),
            },
        }

    return asyncio.run(scenario())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the options, run the benchmark and print its figures as JSON.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``); see ``--help``.

    Returns:
        The figures of :func:`run`.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    args = parser.parse_args(argv)
    result = run(sessions=args.sessions, tokens=args.tokens, interval_ms=args.interval_ms)
    print(json.dumps({"channels_per_token": result}, indent=2))
    return result


if __name__ == "__main__":
    main()
