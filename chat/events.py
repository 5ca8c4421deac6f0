"""Events of the answering stream, shared by the service that yields them and the transports that send them.

:func:`chat.services.answering.answer_stream` yields zero or more :class:`TokenEvent` and then exactly one
:class:`AnswerFinalEvent` (``type == "answer"``) or :class:`ErrorEvent`; :data:`AnswerEvent` is their union.
The WebSocket consumer and the SSE/REST views forward them unchanged.

The final event carries the answer twice: ``text`` (the sanitised markdown, for API clients) and ``html`` (that text
rendered by :func:`answer_html`, the one renderer of every page, for the chat page to put in place as it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypedDict

from django.utils.translation import gettext


class Citation(TypedDict):
    """One source of an answer, resolved on the server to a chunk the reader may see."""

    number: int
    chunk_id: int
    document_id: int
    document_title: str
    page: int | None
    page_end: int | None
    heading: str
    location: str
    quote: str
    score: float
    url: str


class TokenEvent(TypedDict):
    """A piece of the answer as it is generated, appended to what the reader sees until the final event."""

    type: Literal["token"]
    text: str


class AnswerFinalEvent(TypedDict):
    """The final, sanitised answer: it replaces whatever the tokens spelled out.

    ``html`` is ``text`` rendered by :func:`answer_html` (nh3-cleaned, citation markers linked to the source view):
    the chat page shows it as it is instead of rendering the markdown itself.
    """

    type: Literal["answer"]
    text: str
    html: str
    citations: list[Citation]
    response_id: int
    query_id: int
    status: str


class ErrorEvent(TypedDict):
    """A coded error, same shape as the REST error body (``code``, ``message``) plus ``type``."""

    type: Literal["error"]
    code: str
    message: str
    response_id: NotRequired[int]
    query_id: NotRequired[int]
    retry_after: NotRequired[int]  # rate_limited: seconds until the next question may be asked


AnswerEvent = TokenEvent | AnswerFinalEvent | ErrorEvent


def token_event(text: str) -> TokenEvent:
    """The ``token`` event that carries ``text``, the next visible piece of the answer."""
    return {"type": "token", "text": text}


def answer_html(text: str, citations: Sequence[Citation] | Sequence[dict[str, Any]]) -> str:
    """An answer's markdown as the HTML every page shows (:func:`guards.render.markdown_html`, nh3-cleaned).

    The blocked-image and blocked-link labels are the chat page's, translated into the active language.

    Args:
        text: the answer's markdown (untrusted: written by a model).
        citations: the answer's citations; a ``[n]`` marker links to citation ``n``'s source view.

    Returns:
        HTML with no image, no script and live links only into the portal; safe to insert into a page.
    """
    from guards.render import markdown_html  # noqa: PLC0415 - the guards package loads its scanners: not at import

    return markdown_html(
        text,
        citations=[dict(c) for c in citations],
        image_label=gettext("image not loaded"),
        link_label=gettext("external link"),
    )


def answer_event(
    *, text: str, citations: list[Citation], response_id: int, query_id: int, status: str
) -> AnswerFinalEvent:
    """The final ``answer`` event of a stored answer, with its rendered :func:`answer_html`.

    Args:
        text: the final, sanitised answer (markdown).
        citations: its resolved citations.
        response_id: the stored Response.
        query_id: the stored Query.
        status: the Response's status (``completed``, ``extractive``, ``no_answer``).

    Returns:
        The event, ready to send as JSON.
    """
    return {
        "type": "answer",
        "text": text,
        "html": answer_html(text, citations),
        "citations": citations,
        "response_id": response_id,
        "query_id": query_id,
        "status": status,
    }


def error_event(
    *,
    code: str,
    message: str,
    response_id: int | None = None,
    query_id: int | None = None,
    retry_after: int | None = None,
) -> ErrorEvent:
    """The ``error`` event of a coded error, with the optional keys only when they have a value.

    Args:
        code: the stable error code (``docintel.errors``), e.g. ``guardrail_blocked``, ``rate_limited``.
        message: the reader-facing message.
        response_id: the stored Response of the question that failed, if one was stored.
        query_id: the stored Query, if one was stored.
        retry_after: for ``rate_limited``: seconds until the next question may be asked.

    Returns:
        The event, ready to send as JSON.
    """
    event: ErrorEvent = {"type": "error", "code": code, "message": message}
    if response_id is not None:
        event["response_id"] = response_id
    if query_id is not None:
        event["query_id"] = query_id
    if retry_after is not None:
        event["retry_after"] = retry_after
    return event


# --- WebSocket protocol of /ws/chat/{session_id} (chat/consumers.py; documented in docs/websocket.md) -------------
class QuestionMessage(TypedDict):
    """Client → server: ask a question in this session."""

    type: Literal["question"]
    text: str


class CancelMessage(TypedDict):
    """Client → server: stop the running answer."""

    type: Literal["cancel"]


class FetchMessage(TypedDict):
    """Client → server: send again a finished answer of this session (after a reconnect)."""

    type: Literal["fetch"]
    response_id: int


class HistoryMessage(TypedDict):
    """Client → server: the session's exchanges so far."""

    type: Literal["history"]


class PingMessage(TypedDict):
    """Heartbeat, both directions: the receiver answers with a ``pong``."""

    type: Literal["ping"]


class PongMessage(TypedDict):
    """Heartbeat reply, both directions: the answer to a ``ping``."""

    type: Literal["pong"]


ClientMessage = QuestionMessage | CancelMessage | FetchMessage | HistoryMessage | PingMessage | PongMessage


class SupersededSource(TypedDict):
    """A document version an answer cited that a newer (or restored) version has replaced since."""

    document_id: int
    title: str
    version: int
    current_document_id: int | None
    current_version: int | None


class HistoryItem(TypedDict):
    """One exchange; ``status`` is ``streaming`` while the answer is not stored yet.

    ``superseded`` names the cited document versions that are no longer current (the answer predates them).
    """

    query_id: int
    question: str
    response_id: int | None
    status: str
    text: str
    citations: list[Citation]
    superseded: list[SupersededSource]


class HistoryEvent(TypedDict):
    """Server → client: the session's last exchanges, oldest first, in reply to a ``history`` message."""

    type: Literal["history"]
    items: list[HistoryItem]


ServerMessage = TokenEvent | AnswerFinalEvent | ErrorEvent | HistoryEvent | PingMessage | PongMessage
