"""Reader-facing services around the answering stream: chat sessions, history, feedback and the source view.

Everything here checks ownership or visibility itself: a session belongs to one user, a response is readable only
by the user who asked, a document only through :meth:`documents.models.DocumentQuerySet.visible_to`.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from chat.events import AnswerFinalEvent, Citation, HistoryItem, answer_event
from chat.models import ChatSession, Feedback, Query, Response
from docintel.errors import DocumentNotFound, InvalidInput, NotFound, ResponseNotFound, SessionNotFound
from documents.models import Chunk, Document
from review.services.queue import review_item_feedback

if TYPE_CHECKING:
    from docintel.models import User

log = structlog.get_logger(__name__)

PAGE_IMAGE_DPI = 80
PAGE_IMAGE_MAX_PIXELS = 2000
_PDFIUM_LOCK = threading.Lock()


# --- Sessions ------------------------------------------------------------------------------------------------------
def session_create(*, user: User, title: str = "") -> ChatSession:
    """Start a new conversation for ``user``.

    Args:
        user: the owner; only they may open the session's WebSocket.
        title: optional; the session list falls back to the first question.

    Returns:
        The new session.
    """
    session = ChatSession.objects.create(user=user, title=title.strip()[:200])
    log.info("chat_session_created", session_id=str(session.pk), user_id=user.pk)
    return session


def session_for_user(*, user: User | Any, session_id: str | uuid.UUID) -> ChatSession:
    """The session ``session_id`` if ``user`` owns it.

    Args:
        user: the signed-in user (an inactive or anonymous one owns nothing).
        session_id: the session's UUID, as a string from a URL or a frame, or a UUID.

    Returns:
        The session.

    Raises:
        SessionNotFound: malformed id, unknown session, or another user's session (indistinguishable on purpose).
    """
    try:
        pk = session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
    except ValueError as exc:
        raise SessionNotFound from exc
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise SessionNotFound
    session = ChatSession.objects.filter(pk=pk, user=user).first()
    if session is None:
        raise SessionNotFound
    return session


def sessions_for_list(*, user: User | Any, limit: int = 50) -> QuerySet[ChatSession]:
    """The user's sessions, most recently active first, each with ``first_question`` and ``last_activity``.

    Args:
        user: the reader.
        limit: at most this many sessions.

    Returns:
        The sessions, annotated, in one query.
    """
    first_question = Query.objects.filter(session=OuterRef("pk")).order_by("created_at").values("text")[:1]
    return (
        ChatSession.objects.filter(user=user)
        .annotate(
            first_question=Subquery(first_question),
            last_activity=Coalesce(Max("queries__created_at"), "updated_at"),
        )
        .order_by("-last_activity")[:limit]
    )


def _citations(raw: Any) -> list[Citation]:
    return cast("list[Citation]", list(raw or []))


def session_history(*, session: ChatSession, limit: int = 100) -> list[HistoryItem]:
    """The session's exchanges, oldest first (at most the ``limit`` most recent ones).

    Args:
        session: the chat session (its owner was checked by the caller).
        limit: at most this many exchanges, the most recent ones.

    Returns:
        One item per question: the answer's id, status, text and citations, and the cited versions superseded since.
    """
    queries = list(Query.objects.filter(session=session).select_related("response").order_by("-created_at")[:limit])
    items: list[HistoryItem] = []
    for query in reversed(queries):
        response: Response | None = getattr(query, "response", None)
        items.append(
            {
                "query_id": query.pk,
                "question": query.text,
                "response_id": response.pk if response else None,
                "status": response.status if response else Response.Status.STREAMING.value,
                "text": response.text if response else "",
                "citations": _citations(response.citations if response else []),
                "superseded": [],
            }
        )
    _mark_superseded(items)
    return items


def _mark_superseded(items: list[HistoryItem]) -> None:
    """Note on each exchange the cited document versions that another version has replaced since (two queries)."""
    cited = {int(c["document_id"]) for item in items for c in item["citations"] if c.get("document_id")}
    if not cited:
        return
    old = {
        d.pk: d
        for d in Document.objects.not_deleted()
        .filter(pk__in=cited, is_current=False, superseded_at__isnull=False)
        .only("id", "title", "version", "version_of_id", "is_current", "superseded_at")
    }
    if not old:
        return
    families = {d.family_id for d in old.values()}
    current = {
        d.family_id: d
        for d in Document.objects.active()
        .filter(Q(pk__in=families) | Q(version_of_id__in=families))
        .only("id", "version", "version_of_id")
    }
    for item in items:
        seen: set[int] = set()
        for citation in item["citations"]:
            doc = old.get(int(citation.get("document_id") or 0))
            if doc is None or doc.pk in seen:
                continue
            seen.add(doc.pk)
            now = current.get(doc.family_id)
            item["superseded"].append(
                {
                    "document_id": doc.pk,
                    "title": doc.title,
                    "version": doc.version,
                    "current_document_id": now.pk if now else None,
                    "current_version": now.version if now else None,
                }
            )


def response_answer_event(
    *, user: User | Any, response_id: int, session: ChatSession | None = None
) -> AnswerFinalEvent:
    """A stored answer in the shape of the stream's final event (for a client that reconnected).

    Args:
        user: only the user who asked may read the answer.
        response_id: the ``response_id`` of a previous ``answer`` event.
        session: when given, the response must belong to this session too.

    Raises:
        ResponseNotFound: unknown, foreign, or (with ``session``) from another session.
    """
    qs = Response.objects.select_related("query").filter(pk=response_id, query__user=user)
    if session is not None:
        qs = qs.filter(query__session=session)
    response = qs.first()
    if response is None:
        raise ResponseNotFound
    return answer_event(
        text=response.text,
        citations=_citations(response.citations),
        response_id=response.pk,
        query_id=response.query_id,
        status=response.status,
    )


# --- Feedback ------------------------------------------------------------------------------------------------------
@transaction.atomic
def feedback_submit(*, user: User, response_id: int, rating: int, comment: str = "") -> Feedback:
    """Record (or replace) ``user``'s thumbs up/down on one of their answers.

    Args:
        user: the reader; only the user who asked may rate the answer.
        response_id: the rated response.
        rating: ``1`` helpful, ``-1`` not helpful.
        comment: optional free text (at most 2000 characters).

    Raises:
        ResponseNotFound: unknown or foreign response.
        InvalidInput: a rating other than 1/-1 or a comment that is too long.
    """
    if rating not in (1, -1):
        raise InvalidInput("rating must be 1 or -1")
    comment = comment.strip()
    if len(comment) > 2000:
        raise InvalidInput("comment is longer than 2000 characters")
    response = Response.objects.filter(pk=response_id, query__user=user).first()
    if response is None:
        raise ResponseNotFound
    feedback, created = Feedback.objects.update_or_create(
        response=response, user=user, defaults={"rating": rating, "comment": comment}
    )
    review_item_feedback(feedback=feedback)  # a thumbs-down opens (or updates) the librarians' review item
    log.info("feedback_submitted", response_id=response.pk, rating=rating, created=created)
    return feedback


def feedback_for_responses(*, user: User | Any, response_ids: list[int]) -> dict[int, Feedback]:
    """``user``'s feedback on each of ``response_ids`` that has one (one query).

    Args:
        user: the reader.
        response_ids: the answers shown.

    Returns:
        The feedback by response id (answers without feedback are absent).
    """
    return {f.response_id: f for f in Feedback.objects.filter(user=user, response_id__in=response_ids)}


# --- Source view ---------------------------------------------------------------------------------------------------
@dataclass
class SourceGroup:
    """Consecutive chunks on the same page (or under the same heading when the format has no pages)."""

    label: str
    page: int | None
    chunks: list[Chunk] = field(default_factory=list)


@dataclass
class SourceView:
    """What the source view shows: the document, the cited chunk, the chunks around it, and whether more exist."""

    document: Document
    cited: Chunk | None
    groups: list[SourceGroup]
    page_image: int | None
    has_before: bool
    has_after: bool


def _group_label(chunk: Chunk) -> tuple[str, int | None]:
    if chunk.page_start:
        return chunk.location, chunk.page_start
    return chunk.heading, None


def source_view_build(*, user: User | Any, document_id: int, chunk_id: int | None, window: int = 4) -> SourceView:
    """The passages around a cited chunk, grouped by page or heading.

    Args:
        user: the reader; the document must be in ``Document.objects.visible_to(user)``.
        document_id: the cited document.
        chunk_id: the cited chunk (must belong to the document); ``None`` shows the beginning.
        window: chunks shown on each side of the cited one.

    Raises:
        DocumentNotFound: the document does not exist or the user may not read it, or the chunk is not its own.
    """
    document = Document.objects.visible_to(user).filter(pk=document_id).first()
    if document is None:
        raise DocumentNotFound
    cited = None
    if chunk_id is not None:
        cited = Chunk.objects.filter(pk=chunk_id, document=document).first()
        if cited is None:
            raise DocumentNotFound
    centre = cited.ordinal if cited else 0
    low, high = max(0, centre - window), centre + window
    chunks = list(document.chunks.filter(ordinal__gte=low, ordinal__lte=high).order_by("ordinal"))
    groups: list[SourceGroup] = []
    for chunk in chunks:
        label, page = _group_label(chunk)
        if not groups or groups[-1].label != label:
            groups.append(SourceGroup(label=label, page=page))
        groups[-1].chunks.append(chunk)
    page_image = cited.page_start if cited and document.mime_type == "application/pdf" else None
    return SourceView(
        document=document,
        cited=cited,
        groups=groups,
        page_image=page_image,
        has_before=low > 0,
        has_after=document.chunks.filter(ordinal__gt=high).exists(),
    )


def page_image_render(*, user: User | Any, document_id: int, page: int) -> Path:
    """A PNG of one PDF page, rendered once with pypdfium2 and cached under ``MEDIA_ROOT/page-images/``.

    At ``PAGE_IMAGE_DPI``, never larger than ``PAGE_IMAGE_MAX_PIXELS`` on its longer side (a page may declare any
    size). PDFium is not thread-safe: one render at a time per process.

    Args:
        user: the reader; the document must be visible to them.
        document_id: the PDF.
        page: the page number, from 1.

    Returns:
        The cached PNG's path.

    Raises:
        DocumentNotFound: not visible to the user.
        NotFound: not a PDF, no such page, or a file PDFium cannot read.
    """
    import pypdfium2  # loaded on the first page image, not with the web process

    document = Document.objects.visible_to(user).filter(pk=document_id).first()
    if document is None:
        raise DocumentNotFound
    max_pages = document.page_count or settings.DOCINTEL_MAX_PAGES
    if document.mime_type != "application/pdf" or not 1 <= page <= max_pages:
        raise NotFound
    target = Path(settings.MEDIA_ROOT) / "page-images" / str(document.pk) / f"{document.sha256[:16]}-p{page}.png"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.{uuid.uuid4().hex[:8]}.part")
    try:
        with _PDFIUM_LOCK:
            pdf = pypdfium2.PdfDocument(document.file.path)
            try:
                if page > len(pdf):
                    raise NotFound
                pdf_page = pdf[page - 1]
                width, height = pdf_page.get_size()
                scale = min(PAGE_IMAGE_DPI / 72, PAGE_IMAGE_MAX_PIXELS / max(width, height, 1.0))
                pdf_page.render(scale=scale).to_pil().save(partial, format="PNG")
            finally:
                pdf.close()
        partial.replace(target)  # atomic: a concurrent request never serves half a file
    except (pypdfium2.PdfiumError, OSError, ValueError) as exc:
        log.warning("page_image_failed", document_id=document.pk, page=page, error=type(exc).__name__)
        raise NotFound from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


def quote_split(text: str, quote: str) -> tuple[str, str, str] | None:
    """``text`` cut around the first verbatim occurrence of ``quote`` (the citation's words), or None.

    The source view highlights the quoted sentence inside the cited passage; a quote not found (edited, or
    tampered with in the URL) highlights the passage only.

    Args:
        text: the cited passage.
        quote: the words the citation quoted (at least 3 characters, else no highlight).

    Returns:
        ``(before, quote, after)``, or None when the quote is not in the text.
    """
    quote = quote.strip()
    if len(quote) < 3:
        return None
    at = text.find(quote)
    if at < 0:
        return None
    return text[:at], text[at : at + len(quote)], text[at + len(quote) :]
