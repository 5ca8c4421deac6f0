"""Questions API: a synchronous answer with citations, a Server-Sent Events stream, chat sessions, feedback.

Each view parses, authorizes, calls one service and renders. The answering service is imported on first use so the
web process starts without the retrieval stack.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, cast

import structlog
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import (
    AnswerSerializer,
    FeedbackSerializer,
    QuestionSerializer,
    SessionDetailSerializer,
    SessionListItemSerializer,
    SessionSerializer,
)
from chat.events import error_event
from chat.services.quota import question_check
from chat.services.sessions import (
    feedback_submit,
    session_create,
    session_for_user,
    session_history,
    sessions_for_list,
)
from docintel.api.schema import error_responses
from docintel.context import ActorContext

if TYPE_CHECKING:
    from chat.events import AnswerEvent
    from chat.models import ChatSession
    from chat.services.answering import AnswerResult
    from docintel.models import User

log = structlog.get_logger(__name__)


def answer_sync(*, user: Any, text: str, session: ChatSession | None) -> AnswerResult:
    """The answering service, imported when first used (keeps the web process light)."""
    from chat.services.answering import answer_sync as service  # noqa: PLC0415 - heavy imports behind it

    return service(user=user, text=text, session=session, channel="api")


def answer_stream(
    *, user: Any, text: str, session: ChatSession | None, ctx: ActorContext
) -> AsyncIterator[AnswerEvent]:
    """The streaming answering service, imported when first used."""
    from chat.services.answering import answer_stream as service  # noqa: PLC0415 - heavy imports behind it

    return service(user=user, text=text, session=session, channel="sse", ctx=ctx)


def sse_frame(event: Mapping[str, Any]) -> bytes:
    """One Server-Sent Event: the event type as ``event:``, the whole event as JSON ``data:``."""
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


async def sse_events(stream: AsyncIterator[AnswerEvent]) -> AsyncIterator[bytes]:
    """Forward the answering events as SSE frames; a failure mid-stream becomes a final ``error`` event."""
    async with aclosing(stream):  # type: ignore[type-var]  # an async generator has aclose()
        try:
            async for event in stream:
                yield sse_frame(event)
        except Exception:  # stream boundary: log, tell the client, end the stream
            log.exception("sse_stream_failed")
            yield sse_frame(error_event(code="internal_error", message="The answer could not be completed."))


SSE_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event.",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["token", "answer", "error"]},
        "data": {"type": "string", "description": "The event as JSON, its `type` equal to `event`."},
    },
}


class EventStreamRenderer(BaseRenderer):
    """``text/event-stream``: an error before the stream starts is sent as one ``error`` event."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        """Render a coded error as one ``error`` event; anything else (a stream writes its own frames) as nothing."""
        if isinstance(data, dict) and "code" in data:
            return sse_frame({"type": "error", "code": data["code"], "message": data.get("message", "")})
        return b""


def _user(request: Request) -> User:
    """The signed-in user (every view here requires one: DEFAULT_PERMISSION_CLASSES)."""
    return cast("User", request.user)


def _session(user: User, session_id: Any) -> ChatSession | None:
    return None if session_id is None else session_for_user(user=user, session_id=session_id)


class JSONAPIView(APIView):
    """The questions API speaks JSON only."""

    parser_classes = (JSONParser,)


class QueryView(JSONAPIView):
    """A whole answer; the question's limits are ``question_check``'s (400 ``invalid_input``), the quotas the service's.

    Questions count against the user's quotas in the answering service (429 ``rate_limited``, ``Retry-After``).
    """

    @extend_schema(
        operation_id="query",
        request=QuestionSerializer,
        responses={200: AnswerSerializer, **error_responses(400, 404, 415, 422, 429, 502, 503, 504)},
        tags=["questions"],
    )
    def post(self, request: Request) -> Response:
        """Ask a question; the answer comes back whole, with its citations (only from documents you may read)."""
        form = QuestionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        text = question_check(text=form.validated_data["text"])
        session = _session(_user(request), form.validated_data.get("session_id"))
        result = answer_sync(user=_user(request), text=text, session=session)
        return Response(AnswerSerializer(result).data)


class QueryStreamView(JSONAPIView):
    """A question refused by the user's quotas is one ``event: error`` (``rate_limited``, ``retry_after``)."""

    renderer_classes = (JSONRenderer, EventStreamRenderer)

    @extend_schema(
        operation_id="query_stream",
        request=QuestionSerializer,
        parameters=[OpenApiParameter("format", exclude=True)],  # the Accept header chooses; ?format= is not API
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                SSE_EVENT,
                description=(
                    "Server-Sent Events: `event: token` frames (`{type, text}`), then exactly one `event: answer` "
                    "(`{type, text, html, citations, response_id, query_id, status}`) or `event: error` "
                    "(`{type, code, message}`; `rate_limited` adds `retry_after` in seconds). The data of each frame "
                    "is JSON."
                ),
            ),
            **{(code, "application/json"): r for code, r in error_responses(400, 404, 415).items()},
            **{
                (code, "text/event-stream"): OpenApiResponse(SSE_EVENT, description="The same error as one event.")
                for code in (400, 401, 404, 405, 415)
            },
        },
        tags=["questions"],
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        """Ask a question and receive the answer as it is written (for clients without WebSockets)."""
        form = QuestionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        text = question_check(text=form.validated_data["text"])
        user = _user(request)
        session = _session(user, form.validated_data.get("session_id"))
        stream = answer_stream(user=user, text=text, session=session, ctx=ActorContext.from_request(request))
        response = StreamingHttpResponse(sse_events(stream), content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # tell a reverse proxy not to buffer the frames
        return response


class SessionListView(JSONAPIView):
    """``/api/v1/sessions/``: your chat sessions; start one."""

    @extend_schema(
        operation_id="sessions_list",
        responses={200: SessionListItemSerializer(many=True), **error_responses()},
        tags=["sessions"],
    )
    def get(self, request: Request) -> Response:
        """Your 50 most recently active chat sessions."""
        return Response(SessionListItemSerializer(sessions_for_list(user=_user(request)), many=True).data)

    @extend_schema(
        operation_id="sessions_create",
        request=SessionSerializer,
        responses={201: SessionSerializer, **error_responses(400, 415)},
        tags=["sessions"],
    )
    def post(self, request: Request) -> Response:
        """Start a chat session (its id is the one of ``/ws/chat/{session_id}``)."""
        form = SessionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        session = session_create(user=_user(request), title=form.validated_data.get("title", ""))
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailView(JSONAPIView):
    """``/api/v1/sessions/{session_id}``: one of your sessions with its history."""

    @extend_schema(
        operation_id="sessions_retrieve",
        responses={200: SessionDetailSerializer, **error_responses(404)},
        tags=["sessions"],
    )
    def get(self, request: Request, session_id: str) -> Response:
        """A chat session of yours with its history: questions, answers and citations, oldest first."""
        session = session_for_user(user=_user(request), session_id=session_id)
        data = {"session": session, "history": session_history(session=session)}
        return Response(SessionDetailSerializer(data).data)


class FeedbackView(JSONAPIView):
    """``/api/v1/responses/{response_id}/feedback``: rate one of your answers."""

    @extend_schema(
        operation_id="responses_feedback",
        request=FeedbackSerializer,
        responses={200: FeedbackSerializer, **error_responses(400, 404, 415)},
        tags=["questions"],
    )
    def post(self, request: Request, response_id: int) -> Response:
        """Rate one of your answers (1 helpful, -1 not helpful) with an optional comment; a new rating replaces it."""
        form = FeedbackSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        feedback = feedback_submit(
            user=_user(request),
            response_id=response_id,
            rating=form.validated_data["rating"],
            comment=form.validated_data["comment"],
        )
        return Response(FeedbackSerializer(feedback).data)
