"""The chat WebSocket on a real Daphne, spoken to by a real client (``websockets``), answered by the real service."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from rest_framework_simplejwt.tokens import AccessToken
from websockets.typing import Origin, Subprotocol

from chat.models import ChatSession, Response
from tests.e2e.conftest import QUESTION

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _connect(live, session_id, token: str | None = None, *, origin: str | None = None):
    return websockets.connect(
        f"{live.ws}/ws/chat/{session_id}",
        origin=Origin(origin or live.http),
        subprotocols=[Subprotocol("bearer"), Subprotocol(token)] if token else None,
        open_timeout=10,
    )


async def _close_code(live, session_id, token=None) -> int:
    async with _connect(live, session_id, token) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=10)
    return _code(closed.value)


def _code(closed: websockets.ConnectionClosed) -> int:
    assert closed.rcvd is not None, "the server closed without a close frame"
    return closed.rcvd.code


async def _until_final(ws, timeout: float = 60) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
        if event["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        events.append(event)
        if event["type"] in ("answer", "error"):
            return events


def test_refusals_carry_readable_close_codes(live_daphne, reader, outsider):
    session = ChatSession.objects.create(user=reader)

    async def scenario():
        assert await _close_code(live_daphne, session.pk) == 4401
        assert await _close_code(live_daphne, session.pk, "not-a-jwt") == 4401
        assert await _close_code(live_daphne, session.pk, str(AccessToken.for_user(outsider))) == 4403
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with _connect(
                live_daphne, session.pk, str(AccessToken.for_user(reader)), origin="http://evil.example"
            ):
                pass
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())


def test_real_answer_streams_tokens_then_exactly_one_answer(indexed, live_daphne, reader):
    doc, _ = indexed
    session = ChatSession.objects.create(user=reader)
    token = str(AccessToken.for_user(reader))

    async def scenario():
        async with _connect(live_daphne, session.pk, token) as ws:
            assert ws.subprotocol == "bearer"
            await ws.send(json.dumps({"type": "question", "text": QUESTION}))
            events = await _until_final(ws)
            # Nothing but heartbeats after the final event.
            await ws.send(json.dumps({"type": "history"}))
            history = await _until_history(ws)
            return events, history

    events, history = asyncio.run(scenario())
    types = [e["type"] for e in events]
    assert types[-1] == "answer", events[-1]
    assert types.count("answer") == 1
    assert types[:-1] == ["token"] * (len(types) - 1)
    final = events[-1]
    assert final["status"] in ("completed", "extractive")
    assert final["citations"]
    assert all(c["url"].startswith(f"/documents/{doc.pk}/source/?chunk=") for c in final["citations"])
    response = Response.objects.get(pk=final["response_id"])
    if response.decision["budget"]["generate"] and response.decision.get("reason") != "llm_timeout":
        assert len(types) > 3  # the model started within the budget: its tokens streamed, not one block
    else:  # the measured speed left no room (a loaded machine): the quotes came at once, without tokens
        assert final["status"] == "extractive" and types == ["answer"]
    assert response.query.session_id == session.pk
    assert response.query.channel == "ws"
    assert history["items"][-1]["response_id"] == final["response_id"]


async def _until_history(ws) -> dict[str, Any]:
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if event["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif event["type"] == "history":
            return dict(event)
        else:
            raise AssertionError(f"unexpected event after the answer: {event}")


def test_heartbeat_keeps_a_live_client_and_drops_a_silent_one(live_daphne, reader):
    session = ChatSession.objects.create(user=reader)
    token = str(AccessToken.for_user(reader))

    async def scenario():
        async with _connect(live_daphne, session.pk, token) as ws:
            for _ in range(3):  # pinged every second; answering keeps the socket open
                assert json.loads(await asyncio.wait_for(ws.recv(), timeout=5)) == {"type": "ping"}
                await ws.send(json.dumps({"type": "pong"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), timeout=5)) == {"type": "ping"}
            # Silent from now on: the server drops the peer.
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=5)
            return _code(closed.value)

    assert asyncio.run(scenario()) == 4408


def test_cancel_stops_a_real_answer_and_stores_it_cancelled(indexed, live_daphne, reader):
    session = ChatSession.objects.create(user=reader)
    token = str(AccessToken.for_user(reader))

    async def scenario():
        async with _connect(live_daphne, session.pk, token) as ws:
            await ws.send(json.dumps({"type": "question", "text": "Describe the Kestrel reservoir in detail."}))
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
                if event["type"] == "token":
                    break
                if event["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                else:
                    raise AssertionError(f"expected a token first: {event}")
            await ws.send(json.dumps({"type": "cancel"}))
            return await _until_final(ws)

    events = asyncio.run(scenario())
    assert [e["type"] for e in events[:-1]] == ["token"] * (len(events) - 1)
    final = events[-1]
    assert (final["type"], final["code"]) == ("error", "cancelled")
    response = Response.objects.get(pk=final["response_id"])
    assert response.status == Response.Status.CANCELLED
    assert response.query.session_id == session.pk
