"""The chat WebSocket through the real ASGI stack (origin check, session/JWT auth, routing) with WebsocketCommunicator.

The answering service is replaced by a scripted async generator here (transport-level tests); the end-to-end tests
in tests/e2e run the real one.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from chat import consumers
from chat.events import error_event, token_event
from chat.models import ChatSession, Query, Response
from docintel.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://127.0.0.1")


class ScriptedService:
    """Stands in for ``answer_stream``: yields the tokens (with a delay), then one answer; honours ``cancel``."""

    def __init__(self, tokens: list[str], *, delay: float = 0.0) -> None:
        self.tokens = tokens
        self.delay = delay
        self.calls: list[dict[str, object]] = []
        self.finished = asyncio.Event()

    async def __call__(self, *, user, text, session, cancel, ctx):
        self.calls.append({"user": user.pk, "text": text, "session": session.pk, "ip": ctx.ip_address})
        try:
            for token in self.tokens:
                await asyncio.sleep(self.delay)
                if cancel.is_set():
                    yield error_event(code="cancelled", message="stopped", response_id=99)
                    return
                yield token_event(token)
            yield {
                "type": "answer",
                "text": "".join(self.tokens),
                "citations": [],
                "response_id": 7,
                "query_id": 3,
                "status": "completed",
            }
        finally:
            self.finished.set()


def _scripted(monkeypatch, tokens: list[str], *, delay: float = 0.0) -> ScriptedService:
    service = ScriptedService(tokens, delay=delay)

    def fake(**kwargs):
        return service(**kwargs)

    monkeypatch.setattr(consumers, "answer_stream", fake)
    return service


@sync_to_async
def _session(user) -> ChatSession:
    return ChatSession.objects.create(user=user)


@sync_to_async
def _token(user, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


@sync_to_async
def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _jwt_communicator(session_id, token: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, f"/ws/chat/{session_id}", headers=[ORIGIN], subprotocols=["bearer", token]
    )


async def _closed_with(comm: WebsocketCommunicator) -> int:
    message = await comm.receive_output(timeout=3)
    assert message["type"] == "websocket.close", message
    return int(message["code"])


async def _receive_until_final(comm: WebsocketCommunicator, timeout: float = 3) -> list[dict[str, Any]]:
    events = []
    while True:
        event = await comm.receive_json_from(timeout=timeout)
        events.append(event)
        if event["type"] in ("answer", "error"):
            return events


# --- Authentication and authorisation ------------------------------------------------------------------------------
async def test_anonymous_is_accepted_then_closed_4401(reader, monkeypatch):
    service = _scripted(monkeypatch, ["x"])
    session = await _session(reader)
    comm = WebsocketCommunicator(application, f"/ws/chat/{session.pk}", headers=[ORIGIN])
    connected, _ = await comm.connect()
    assert connected
    assert await _closed_with(comm) == 4401
    assert service.calls == []


async def test_invalid_jwt_closes_4401_after_choosing_bearer(reader):
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, "not-a-jwt")
    connected, subprotocol = await comm.connect()
    assert (connected, subprotocol) == (True, "bearer")
    assert await _closed_with(comm) == 4401


async def test_foreign_unknown_and_malformed_sessions_close_4403(reader, outsider, monkeypatch):
    service = _scripted(monkeypatch, ["x"])
    readers_session = await _session(reader)
    token = await _token(outsider)
    for session_id in (readers_session.pk, "00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        comm = _jwt_communicator(session_id, token)
        connected, _ = await comm.connect()
        assert connected
        assert await _closed_with(comm) == 4403, session_id
    assert service.calls == []


async def test_foreign_origin_is_refused_at_handshake(reader):
    session = await _session(reader)
    token = await _token(reader)
    comm = WebsocketCommunicator(
        application,
        f"/ws/chat/{session.pk}",
        headers=[(b"origin", b"http://evil.example")],
        subprotocols=["bearer", token],
    )
    connected, _ = await comm.connect()
    assert not connected


# --- Streaming -----------------------------------------------------------------------------------------------------
async def test_jwt_question_streams_tokens_then_one_answer(reader, monkeypatch):
    service = _scripted(monkeypatch, ["Αθήνα", " is", " the", " capital"])
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    comm.scope["client"] = ("203.0.113.7", 50123)  # the reader's address, as Daphne puts it in the scope
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": "  What is the capital?  "})
    events = await _receive_until_final(comm)
    assert [e["type"] for e in events] == ["token"] * 4 + ["answer"]
    assert "".join(e["text"] for e in events[:-1]) == events[-1]["text"] == "Αθήνα is the capital"
    assert events[-1]["response_id"] == 7
    # the service gets where the question came from, for its audit rows
    assert service.calls == [
        {"user": reader.pk, "text": "What is the capital?", "session": session.pk, "ip": "203.0.113.7"}
    ]
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_session_cookie_authenticates_the_page_client(reader, monkeypatch):
    _scripted(monkeypatch, ["ok"])
    session = await _session(reader)
    comm = WebsocketCommunicator(
        application, f"/ws/chat/{session.pk}", headers=[ORIGIN, (b"cookie", await _session_cookie(reader))]
    )
    connected, subprotocol = await comm.connect()
    assert (connected, subprotocol) == (True, None)
    await comm.send_json_to({"type": "question", "text": "hi"})
    assert [e["type"] for e in await _receive_until_final(comm)] == ["token", "answer"]
    await comm.disconnect()


async def test_second_question_while_streaming_is_refused_not_interleaved(reader, monkeypatch):
    service = _scripted(monkeypatch, ["a", "b", "c", "d"], delay=0.05)
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": "first"})
    await comm.send_json_to({"type": "question", "text": "second"})
    refusal = await comm.receive_json_from()
    assert refusal["type"] == "error"
    assert refusal["code"] == "answer_in_progress"
    events = await _receive_until_final(comm)
    assert [e["type"] for e in events] == ["token"] * 4 + ["answer"]
    assert [c["text"] for c in service.calls] == ["first"]
    await comm.send_json_to({"type": "question", "text": "third"})
    assert (await _receive_until_final(comm))[-1]["type"] == "answer"
    assert [c["text"] for c in service.calls] == ["first", "third"]
    await comm.disconnect()


async def test_cancel_stops_the_running_answer(reader, monkeypatch):
    _scripted(monkeypatch, [f"t{i}" for i in range(100)], delay=0.02)
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": "long one"})
    assert (await comm.receive_json_from())["type"] == "token"
    await comm.send_json_to({"type": "cancel"})
    events = await _receive_until_final(comm)
    assert events[-1]["type"] == "error"
    assert events[-1]["code"] == "cancelled"
    assert len(events) < 20
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


async def test_service_failure_becomes_a_coded_error_and_the_socket_stays(reader, monkeypatch):
    async def broken(**kwargs):
        yield token_event("partial")
        raise RuntimeError("model crashed")

    monkeypatch.setattr(consumers, "answer_stream", broken)
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": "q"})
    events = await _receive_until_final(comm)
    assert [(e["type"], e.get("code")) for e in events] == [("token", None), ("error", "internal_error")]
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


async def test_invalid_messages_get_coded_errors(reader, monkeypatch):
    service = _scripted(monkeypatch, ["x"])
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    for frame in (
        "not json",
        "[1, 2]",
        '{"type": "shout"}',
        '{"type": "question", "text": "   "}',
        '{"type": "question", "text": 5}',
        '{"type": "fetch", "response_id": "7"}',
    ):
        await comm.send_to(text_data=frame)
        event = await comm.receive_json_from()
        assert (event["type"], event["code"]) == ("error", "invalid_input"), frame
    await comm.send_json_to({"type": "question", "text": "x" * 4001})
    assert (await comm.receive_json_from())["code"] == "invalid_input"
    assert service.calls == []
    await comm.disconnect()


@pytest.mark.parametrize("lang", ["en", "el"])
async def test_the_question_limit_is_the_shared_services(reader, monkeypatch, settings, lang):
    """Max + 1 characters is refused with the code and message of the API (``question_check``); max is asked."""
    from tests.chat.question_texts import question_of

    service = _scripted(monkeypatch, ["ok"])
    limit = settings.DOCINTEL_WS_MAX_QUESTION_CHARS
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": question_of(lang, limit + 1)})
    assert await comm.receive_json_from() == {
        "type": "error",
        "code": "invalid_input",
        "message": f"The question is too long: at most {limit} characters.",
    }
    await comm.send_json_to({"type": "question", "text": "a\x00b"})
    assert (await comm.receive_json_from())["code"] == "invalid_input"
    assert service.calls == []
    exact = question_of(lang, limit)
    await comm.send_json_to({"type": "question", "text": f" {exact} "})
    events = await _receive_until_final(comm)
    assert events[-1]["type"] == "answer"
    assert service.calls == [{"user": reader.pk, "text": exact, "session": session.pk, "ip": None}]
    await comm.disconnect()


# --- Heartbeat, expiry, reconnect -------------------------------------------------------------------------------------
async def test_heartbeat_pings_and_drops_a_silent_peer(reader, settings):
    settings.DOCINTEL_WS_HEARTBEAT_SECONDS = 0.1
    settings.DOCINTEL_WS_HEARTBEAT_TIMEOUT = 0.2
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    assert await comm.receive_json_from() == {"type": "ping"}
    await comm.send_json_to({"type": "pong"})
    assert await comm.receive_json_from() == {"type": "ping"}  # alive: pinged again
    # No answer to this ping: the server drops the peer.
    assert await _closed_with(comm) == 4408


async def test_token_expiring_mid_stream_closes_4401_and_reconnect_fetches(reader, monkeypatch):
    service = _scripted(monkeypatch, [f"t{i}" for i in range(15)], delay=0.1)
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader, timedelta(seconds=1)))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": "slow"})
    events = []
    while True:
        message = await comm.receive_output(timeout=3)
        if message["type"] == "websocket.close":
            break
        events.append(message["text"])
    assert message["code"] == 4401
    assert '"token_expired"' in events[-1]
    await comm.disconnect()
    # A closed socket cancels its answer (the service stores it as cancelled, fetchable after reconnecting).
    await asyncio.wait_for(service.finished.wait(), timeout=1)
    assert len(service.calls) == 1
    assert len(events) < 15


async def test_a_deactivated_user_is_closed_4401_at_the_next_question(reader, monkeypatch):
    service = _scripted(monkeypatch, ["a"])
    session = await _session(reader)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "question", "text": "first"})
    assert (await _receive_until_final(comm))[-1]["type"] == "answer"
    reader.is_active = False
    await sync_to_async(reader.save)(update_fields=["is_active"])
    await comm.send_json_to({"type": "question", "text": "second"})
    refusal = await comm.receive_json_from()
    assert (refusal["type"], refusal["code"]) == ("error", "not_authenticated")
    assert await _closed_with(comm) == 4401
    assert [c["text"] for c in service.calls] == ["first"]


async def test_history_frames_are_bounded_and_throttled(reader, settings):
    settings.DOCINTEL_WS_HISTORY_ITEMS = 2
    settings.DOCINTEL_WS_HISTORY_INTERVAL = 30.0
    session = await _session(reader)
    for _ in range(3):
        await _stored_answer(reader, session)
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "history"})
    history = await comm.receive_json_from()
    assert history["type"] == "history" and len(history["items"]) == 2
    await comm.send_json_to({"type": "history"})
    refused = await comm.receive_json_from()
    assert (refused["type"], refused["code"]) == ("error", "rate_limited")
    assert 1 <= refused["retry_after"] <= 30
    await comm.disconnect()


@sync_to_async
def _stored_answer(user, session) -> Response:
    query = Query.objects.create(user=user, session=session, text="Where is it?")
    return Response.objects.create(
        query=query,
        text="On page 2 [1].",
        status=Response.Status.COMPLETED,
        citations=[{"number": 1, "chunk_id": 5, "document_id": 4, "url": "/documents/4/source/?chunk=5"}],
    )


async def test_fetch_and_history_return_stored_answers_of_own_session_only(reader, outsider):
    session = await _session(reader)
    response = await _stored_answer(reader, session)
    foreign = await _stored_answer(outsider, await _session(outsider))
    comm = _jwt_communicator(session.pk, await _token(reader))
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "fetch", "response_id": response.pk})
    answer = await comm.receive_json_from()
    assert answer == {
        "type": "answer",
        "text": "On page 2 [1].",
        "html": '<p>On page 2 <a href="/documents/4/source/?chunk=5" class="ref">[1]</a>.</p>\n',
        "citations": response.citations,
        "response_id": response.pk,
        "query_id": response.query_id,
        "status": "completed",
    }
    await comm.send_json_to({"type": "fetch", "response_id": foreign.pk})
    assert (await comm.receive_json_from())["code"] == "response_not_found"
    await comm.send_json_to({"type": "history"})
    history = await comm.receive_json_from()
    assert history["type"] == "history"
    assert [(i["question"], i["response_id"], i["status"]) for i in history["items"]] == [
        ("Where is it?", response.pk, "completed")
    ]
    await comm.disconnect()


@pytest.mark.parametrize(
    ("headers", "label"),
    [
        ([(b"cookie", b"django_language=el")], "η εικόνα δεν φορτώθηκε"),
        ([(b"accept-language", b"el-GR,el;q=0.9,en;q=0.5")], "η εικόνα δεν φορτώθηκε"),
        ([(b"accept-language", b"fr-FR,en;q=0.5")], "image not loaded"),
        ([], "image not loaded"),
    ],
)
async def test_the_final_events_html_speaks_the_pages_language(reader, headers, label):
    session = await _session(reader)
    response = await sync_to_async(Response.objects.create)(
        query=await sync_to_async(Query.objects.create)(user=reader, session=session, text="Πού;"),
        text="Δείτε ![διάγραμμα](https://evil.example/p.png) [1]",
        status=Response.Status.COMPLETED,
        citations=[{"number": 1, "chunk_id": 5, "document_id": 4, "url": "/documents/4/source/?chunk=5"}],
    )
    comm = WebsocketCommunicator(
        application, f"/ws/chat/{session.pk}", headers=[ORIGIN, *headers], subprotocols=["bearer", await _token(reader)]
    )
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "fetch", "response_id": response.pk})
    html = (await comm.receive_json_from())["html"]
    assert f'<span class="blocked">[{label}: διάγραμμα https://evil.example/p.png]</span>' in html
    assert '<a href="/documents/4/source/?chunk=5" class="ref">[1]</a>' in html
    await comm.disconnect()
