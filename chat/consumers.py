"""``/ws/chat/{session_id}``: a reader's conversation over WebSocket (protocol in docs/websocket.md).

The consumer authenticates (JWT subprotocol or Django session, set by the middleware in :mod:`docintel.asgi`),
checks that the session is the user's own, validates client messages and forwards questions to
:func:`chat.services.answering.answer_stream`, whose events it sends unchanged. The stream runs in its own task, so
``cancel``, ``ping`` and refusals of a second question are handled while tokens flow. Each question reads the user
again (a deactivated user's socket closes with 4401; the service applies the current roles and groups and the
user's quotas); a closed socket cancels its stream (stored as cancelled); ``history`` is bounded and throttled.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from chat.events import AnswerEvent, ErrorEvent, HistoryEvent, ServerMessage, error_event
from chat.services.quota import question_check
from chat.services.sessions import response_answer_event, session_for_user, session_history
from docintel.context import ActorContext
from docintel.errors import InvalidInput, NotAuthenticated, RateLimited, ResponseNotFound, SessionNotFound
from docintel.services import user_current
from docintel.ws_auth import BEARER_SUBPROTOCOL

if TYPE_CHECKING:
    from chat.models import ChatSession

log = structlog.get_logger(__name__)

# Close codes the client can read (4000-4999 are free for applications; 44xx mirror the HTTP statuses).
CLOSE_NOT_AUTHENTICATED = 4401  # no or invalid credentials, or the JWT expired while connected
CLOSE_FORBIDDEN = 4403  # the session is not the user's own (or does not exist)
CLOSE_HEARTBEAT_TIMEOUT = 4408  # no frame from the client in time after a ping

CANCEL_GRACE_S = 5.0  # after a cancel, the service gets this long to end its stream before the task is cancelled

# Streams of a closed socket are cancelled; they are kept here until the service has stored them as cancelled.
_DETACHED: set[asyncio.Task[None]] = set()


def answer_stream(
    *, user: Any, text: str, session: ChatSession, cancel: asyncio.Event, ctx: ActorContext
) -> AsyncIterator[AnswerEvent]:
    """The answering service, imported when first used (keeps ``docintel.asgi`` light)."""
    from chat.services.answering import answer_stream as service  # noqa: PLC0415 - heavy imports behind it

    return service(user=user, text=text, session=session, channel="ws", cancel=cancel, ctx=ctx)


def scope_language(scope: Mapping[str, Any]) -> str:
    """The reader's page language for what the server writes on this socket (the answer's ``html`` labels).

    Channels runs no LocaleMiddleware, so the same sources are read here: the language cookie the page's switcher
    sets, then ``Accept-Language``, then ``LANGUAGE_CODE``.

    Args:
        scope: the connection's ASGI scope (``cookies`` from Channels' cookie middleware, ``headers``).

    Returns:
        A code from ``settings.LANGUAGES``, e.g. ``el``.
    """
    candidates = [str((scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME, ""))]
    accept = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
    candidates += [code for code, _quality in parse_accept_lang_header(accept) if code != "*"]
    for code in filter(None, candidates):
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return str(settings.LANGUAGE_CODE)


class ChatConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels has no type hints
    """One reader's socket on one of their chat sessions: questions in, answer events out (docs/websocket.md)."""

    # Nothing reaches a chat socket through the channel layer (the answer streams inside this process), so the
    # consumer does not subscribe: no Redis BZPOPMIN per open socket, and a Redis hiccup cannot close every chat.
    # ``get_channel_layer`` returns None for an alias that is not configured.
    channel_layer_alias = None

    user: Any
    chat_session: ChatSession

    async def connect(self) -> None:
        """Accept, then close with 4401 (not signed in) or 4403 (not the user's session), else start the watchers."""
        self.open = False
        self.stream_task: asyncio.Task[None] | None = None
        self.cancel_event = asyncio.Event()
        self.watchers: list[asyncio.Task[None]] = []
        self.last_seen = time.monotonic()
        self.history_at = -math.inf
        self.language = scope_language(self.scope)
        jwt = self.scope.get("auth_method") == "jwt"
        # Accept first so the refusal carries a code the client can read (a refused handshake is a bare HTTP 403).
        await self.accept(subprotocol=BEARER_SUBPROTOCOL if jwt else None)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        try:
            self.chat_session = await database_sync_to_async(session_for_user)(user=user, session_id=session_id)
        except SessionNotFound:
            log.info("ws_chat_refused", reason="foreign_session", user_id=user.pk)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.open = True
        self.watchers.append(asyncio.create_task(self._heartbeat()))
        exp = self.scope.get("jwt_exp")
        if jwt and exp is not None:
            self.watchers.append(asyncio.create_task(self._expire_at(float(exp))))
        log.info("ws_chat_connected", session_id=str(self.chat_session.pk), user_id=user.pk)

    async def disconnect(self, code: int) -> None:
        """Stop the watchers and cancel a running answer (the service stores it as cancelled)."""
        self.open = False
        for watcher in self.watchers:
            watcher.cancel()
        self._stream_stop()

    def _stream_stop(self) -> None:
        """Nobody reads the answer any more: cancel it (the service stores what was shown, as cancelled)."""
        stream = self.stream_task
        if stream is not None and not stream.done():
            self.cancel_event.set()
            stream.cancel()
            _DETACHED.add(stream)
            stream.add_done_callback(_DETACHED.discard)
            log.info("ws_chat_stream_cancelled", session_id=str(self.chat_session.pk))

    # --- Receiving ---------------------------------------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """Parse one frame; anything but a JSON object is an ``invalid_input`` error frame."""
        self.last_seen = time.monotonic()
        if not self.open:
            return
        try:
            content = json.loads(text_data) if text_data is not None else None
        except json.JSONDecodeError:
            content = None
        if not isinstance(content, dict):
            await self._send(error_event(code="invalid_input", message="Send one JSON object per frame."))
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        """Dispatch a client message by its ``type``: question, cancel, fetch, history, ping, pong."""
        kind = content.get("type")
        if kind == "question":
            await self._question(content.get("text"))
        elif kind == "cancel":
            await self._cancel()
        elif kind == "fetch":
            await self._fetch(content.get("response_id"))
        elif kind == "history":
            await self._history()
        elif kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "pong":
            pass  # last_seen is updated for every frame
        else:
            await self._send(error_event(code="invalid_input", message="Unknown message type."))

    async def _question(self, raw: Any) -> None:
        try:
            text = question_check(text=raw)  # the rule every transport shares
        except InvalidInput as exc:
            await self._send(error_event(code=exc.code, message=exc.message))
            return
        if self.stream_task is not None and not self.stream_task.done():
            # Refused, never interleaved: the client waits for the answer (or cancels it) and asks again.
            await self._send(error_event(code="answer_in_progress", message="Wait for the answer or stop it first."))
            return
        user = await database_sync_to_async(user_current)(user_id=self.user.pk)
        if user is None:  # deactivated (or deleted) since the socket opened
            denied = NotAuthenticated("Your account is not active.")
            await self._send(error_event(code=denied.code, message=denied.message))
            log.info("ws_chat_user_inactive", session_id=str(self.chat_session.pk), user_id=self.user.pk)
            await self._close(CLOSE_NOT_AUTHENTICATED)
            return
        self.user = user  # roles and groups as they are now, for this question
        self.cancel_event = asyncio.Event()
        self.stream_task = asyncio.create_task(self._stream(text, self.cancel_event))

    async def _cancel(self) -> None:
        task = self.stream_task
        if task is None or task.done():
            return
        self.cancel_event.set()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
        if not done:
            task.cancel()
            log.warning("ws_chat_cancel_forced", session_id=str(self.chat_session.pk))
            await self._send(error_event(code="cancelled", message="The answer was stopped."))

    async def _history(self) -> None:
        """The session's last DOCINTEL_WS_HISTORY_ITEMS exchanges; one frame per DOCINTEL_WS_HISTORY_INTERVAL s."""
        wait = self.history_at + float(settings.DOCINTEL_WS_HISTORY_INTERVAL) - time.monotonic()
        if wait > 0:
            await self._send(
                error_event(
                    code=RateLimited.code, message="History was just sent; ask again shortly.",
                    retry_after=max(1, math.ceil(wait)),
                )
            )  # fmt: skip
            return
        self.history_at = time.monotonic()
        items = await database_sync_to_async(session_history)(
            session=self.chat_session, limit=settings.DOCINTEL_WS_HISTORY_ITEMS
        )
        history: HistoryEvent = {"type": "history", "items": items}
        await self._send(history)

    async def _fetch(self, response_id: Any) -> None:
        if not isinstance(response_id, int) or isinstance(response_id, bool):
            await self._send(error_event(code="invalid_input", message="fetch needs an integer response_id."))
            return
        try:
            with translation.override(self.language):
                event = await database_sync_to_async(response_answer_event)(
                    user=self.user, response_id=response_id, session=self.chat_session
                )
        except ResponseNotFound as exc:
            await self._send(error_event(code=exc.code, message=exc.message))
            return
        await self._send(event)

    # --- Streaming ---------------------------------------------------------------------------------------------------
    async def _stream(self, text: str, cancel: asyncio.Event) -> None:
        session_id = str(self.chat_session.pk)
        try:
            with translation.override(self.language):  # the final event's html labels, in the page's language
                origin = ActorContext.from_scope(self.scope)
                stream = answer_stream(user=self.user, text=text, session=self.chat_session, cancel=cancel, ctx=origin)
                async for event in stream:
                    await self._send(event)
        except Exception:  # stream boundary: log, tell the client, keep the socket
            log.exception("ws_chat_stream_failed", session_id=session_id)
            await self._send(error_event(code="internal_error", message="The answer could not be completed."))

    async def _send(self, event: ServerMessage | ErrorEvent) -> None:
        if self.open:
            await self.send_json(event)

    # --- Watchers ----------------------------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        interval = float(settings.DOCINTEL_WS_HEARTBEAT_SECONDS)
        timeout = float(settings.DOCINTEL_WS_HEARTBEAT_TIMEOUT)
        while self.open:
            await asyncio.sleep(interval)
            sent_at = time.monotonic()
            await self._send({"type": "ping"})
            await asyncio.sleep(timeout)
            if self.last_seen < sent_at and time.monotonic() - sent_at > timeout * 1.5:
                # This process was stalled (the loop was busy), so the pong may be queued behind us: wait once more.
                await asyncio.sleep(timeout)
            if self.last_seen < sent_at:
                log.info("ws_chat_peer_dead", session_id=str(self.chat_session.pk))
                await self._close(CLOSE_HEARTBEAT_TIMEOUT)
                return

    async def _expire_at(self, exp: float) -> None:
        await asyncio.sleep(max(0.0, exp - time.time()))
        await self._send(error_event(code="token_expired", message="The access token expired; reconnect."))
        log.info("ws_chat_token_expired", session_id=str(self.chat_session.pk))
        await self._close(CLOSE_NOT_AUTHENTICATED)

    async def _close(self, code: int) -> None:
        """Close from the server; :meth:`disconnect` then cancels a running answer (stored as cancelled)."""
        if not self.open:
            return
        self.open = False
        self._stream_stop()
        await self.close(code=code)
