"""Server-rendered reader pages: chat sessions, feedback, and the source view behind a citation chip."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit.services import audit_log_write
from chat.forms import FeedbackForm
from chat.services.sessions import (
    feedback_for_responses,
    feedback_submit,
    page_image_render,
    quote_split,
    session_create,
    session_for_user,
    session_history,
    sessions_for_list,
    source_view_build,
)
from docintel.context import ActorContext
from docintel.errors import InvalidInput, NotFound, SessionNotFound
from docintel.params import int_param


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The reader's chat home: their sessions, newest first, and a button for a new one."""
    return render(request, "chat/home.html", {"sessions": sessions_for_list(user=request.user)})


@login_required
@require_POST
def session_new(request: HttpRequest) -> HttpResponse:
    """Start a new chat session for the reader and open it (POST only: a link or a prefetch cannot create one)."""
    session = session_create(user=request.user)  # type: ignore[arg-type]  # login_required: an authenticated User
    return HttpResponseRedirect(reverse("chat:session", args=[session.pk]))


@login_required
@require_GET
def session_detail(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """One conversation; the page opens ``/ws/chat/{session_id}`` with the session cookie.

    The page renders the stored exchanges with the reader's feedback on each answer, the session list beside them,
    and the translated strings the page script shows.

    Args:
        request: the reader's request.
        session_id: the session's UUID from the URL.

    Returns:
        The session page.

    Raises:
        Http404: no such session, or it is another reader's (the same answer for both).
    """
    try:
        session = session_for_user(user=request.user, session_id=session_id)
    except SessionNotFound as exc:
        raise Http404 from exc
    history = session_history(session=session)
    ids = [item["response_id"] for item in history if item["response_id"] is not None]
    feedback = feedback_for_responses(user=request.user, response_ids=ids)
    exchanges = [{**item, "feedback": feedback.get(item["response_id"] or 0)} for item in history]
    context = {
        "session": session,
        "sessions": sessions_for_list(user=request.user),
        "exchanges": exchanges,
        "strings": _page_strings(),
    }
    return render(request, "chat/session.html", context)


def _page_strings() -> dict[str, str]:
    """The texts chat.js shows, translated on the server (no JavaScript catalogue needed)."""
    return {
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost; reconnecting…"),
        "signed_out": _("Your sign-in has expired. Sign in again to continue."),
        "forbidden": _("This conversation is not yours."),
        "busy": _("Wait for the answer or stop it first."),
        "stopped": _("Stopped."),
        "failed": _("The answer could not be completed."),
        "blocked": _("This answer was blocked by the content safety rules."),
        "extractive": _("Quoted from the sources: the language model could not give a supported answer in time."),
        "pending": _("The answer is still being written."),
        "image_blocked": _("image not loaded"),
        "link_blocked": _("external link"),
        "thanks": _("Thank you for the feedback."),
        "feedback_failed": _("The feedback could not be saved."),
    }


@login_required
@require_POST
def feedback(request: HttpRequest, response_id: int) -> HttpResponse:
    """Thumbs up/down with an optional comment; JSON for the page script, a redirect back for a plain form post.

    Args:
        request: the form post (``rating``, ``comment``, and ``next`` for the redirect, same host only, else the chat
            home); ``Accept: application/json`` asks for JSON.
        response_id: the rated answer.

    Returns:
        ``{"rating", "comment"}`` as saved, or the coded error body (400) of an invalid form when JSON is wanted;
        otherwise a redirect.

    Raises:
        Http404: the answer is not one of the reader's, or a plain form post is invalid.
    """
    form = FeedbackForm(request.POST)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not form.is_valid():
        if wants_json:
            return JsonResponse(
                {"code": "invalid_input", "message": "Invalid feedback.", "detail": form.errors}, status=400
            )
        raise Http404
    try:
        saved = feedback_submit(
            user=request.user,  # type: ignore[arg-type]  # login_required: an authenticated User
            response_id=response_id,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except NotFound as exc:
        raise Http404 from exc
    except InvalidInput as exc:
        return JsonResponse(exc.as_dict(), status=exc.status)
    if wants_json:
        return JsonResponse({"rating": saved.rating, "comment": saved.comment})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("chat:home")
    return HttpResponseRedirect(back)


@login_required
@require_GET
def document_source(request: HttpRequest, document_id: int) -> HttpResponse:
    """The passages around a cited chunk (``?chunk=<id>``), the cited one highlighted; 404 for foreign documents.

    ``?quote=`` (the citation's quote, at most 600 characters used) is marked inside the cited passage. Every view is
    written to the audit log with the chunks shown.

    Args:
        request: the reader's request.
        document_id: the cited document.

    Returns:
        The source view page.

    Raises:
        Http404: a ``chunk`` that is not a number, a document the reader may not read, or a chunk not its own.
    """
    raw_chunk = request.GET.get("chunk", "")
    chunk_id = int_param(raw_chunk)
    if raw_chunk and chunk_id is None:
        raise Http404
    try:
        view = source_view_build(user=request.user, document_id=document_id, chunk_id=chunk_id)
    except NotFound as exc:
        raise Http404 from exc
    shown = [chunk.pk for group in view.groups for chunk in group.chunks]
    audit_log_write(
        action="source_viewed",
        target=view.document,
        ctx=ActorContext.from_request(request),
        details={"chunk_id": chunk_id, "chunk_ids": shown},
    )
    quoted = quote_split(view.cited.text, request.GET.get("quote", "")[:600]) if view.cited else None
    return render(request, "documents/source.html", {"view": view, "quoted": quoted})


@login_required
@require_GET
def document_page_image(request: HttpRequest, document_id: int, page: int) -> FileResponse:
    """A PDF page as PNG (rendered once, cached), for the source view; permission-checked like the document.

    Each view is audited; the browser may keep the image for an hour (privately).

    Args:
        request: the reader's request.
        document_id: the document.
        page: the 1-based page number.

    Returns:
        The PNG.

    Raises:
        Http404: a document the reader may not read, not a PDF, no such page, or a file that cannot be rendered.
    """
    try:
        path = page_image_render(user=request.user, document_id=document_id, page=page)
    except NotFound as exc:
        raise Http404 from exc
    audit_log_write(
        action="source_page_viewed",
        target_type="documents.document",
        target_id=document_id,
        ctx=ActorContext.from_request(request),
        details={"page": page},
    )
    response = FileResponse(path.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
