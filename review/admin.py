"""The review queue and the replays in the admin: librarians only; every action goes through one service, audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from chat.models import Response
from docintel.context import ActorContext
from docintel.errors import DocIntelError
from documents.models import Chunk, Document
from review.models import Replay, ReviewItem
from review.services.queue import (
    response_passages,
    review_item_quarantine,
    review_item_reingest,
    review_item_resolve,
    review_item_to_evaluation,
)
from review.services.replay import replay_passages, replay_request


def is_reviewer(request: HttpRequest) -> bool:
    """Librarians (and superusers) work the review queue and replay answers; nobody else sees either."""
    user = request.user
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and (getattr(user, "is_librarian", False) or getattr(user, "is_superuser", False))
    )


class ReviewerOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # base of the two typed admins below
    """Viewable by reviewers; rows change only through the services (the action views), never the plain form."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        """The review app appears on the admin index for reviewers only.

        Args:
            request: the admin request.

        Returns:
            Whether the user is a reviewer (:func:`is_reviewer`).
        """
        return is_reviewer(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Reviewers may open the lists and pages, whatever their model permissions say.

        Args:
            request: the admin request.
            obj: the row, or None on the list.

        Returns:
            Whether the user is a reviewer (:func:`is_reviewer`).
        """
        return is_reviewer(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Nobody adds a row by hand: items open from feedback, replays from the Response page.

        Args:
            request: the admin request.

        Returns:
            Always False.
        """
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody edits a row through the form: the action views call the services.

        Args:
            request: the admin request.
            obj: the row, or None on the list.

        Returns:
            Always False.
        """
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody deletes a review item or a replay: they are the record of what was judged.

        Args:
            request: the admin request.
            obj: the row, or None on the list.

        Returns:
            Always False.
        """
        return False


# --- Forms of the review actions -------------------------------------------------------------------------------------
class ResolveForm(forms.Form):
    """Closing an item: the librarian's note (what was wrong, what was done), required, up to 4,000 characters."""

    note = forms.CharField(label=_("Resolution note"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class ReingestForm(forms.Form):
    """Re-ingesting one of the item's documents, by id (the service checks that it is one of the item's)."""

    document_id = forms.IntegerField(label=_("Document"), min_value=1)


class QuarantineForm(forms.Form):
    """Holding one of the item's passages out of retrieval, by chunk id, with an optional reason."""

    chunk_id = forms.IntegerField(label=_("Passage"), min_value=1)
    reason = forms.CharField(label=_("Reason"), max_length=180, required=False)


class EvaluationForm(forms.Form):
    """Turning the item into an evaluation question: the expected answer, or "the documents do not say".

    Both may be left empty here; the service refuses that combination with ``invalid_input``.
    """

    expected_answer = forms.CharField(
        label=_("Expected answer"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    expect_no_answer = forms.BooleanField(label=_("The documents do not say"), required=False)


ACTIONS: dict[str, type[forms.Form]] = {
    "resolve": ResolveForm,
    "reingest": ReingestForm,
    "quarantine": QuarantineForm,
    "evaluate": EvaluationForm,
}


def passages_now(passages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The passages, each with ``now``: what became of it since (two queries for all of them).

    ``present``, ``quarantined``, ``gone`` (the chunk was replaced: its document re-ingested), ``deleted`` (its
    document was deleted) or ``not current`` (its document was superseded by a newer version).
    """
    rows = [p for p in passages if isinstance(p, dict)]
    chunks = Chunk.objects.select_related("document").in_bulk(
        [p["chunk_id"] for p in rows if p.get("chunk_id") is not None]
    )
    current = set(
        Document.objects.active().filter(pk__in={c.document_id for c in chunks.values()}).values_list("pk", flat=True)
    )
    out = []
    for p in rows:
        chunk = chunks.get(p.get("chunk_id"))
        if chunk is None:
            now = "gone"
        elif chunk.quarantined:
            now = "quarantined"
        elif chunk.document.deleted_at is not None:
            now = "deleted"
        elif chunk.document_id not in current:
            now = "not current"
        else:
            now = "present"
        out.append({**p, "now": now})
    return out


def passages_table(passages: list[dict[str, Any]]) -> str:
    """The passages table of the review and replay pages, each passage with what became of it since.

    Args:
        passages: the stored or the replayed answer's passages (``chunk_id``, scores, ``cited``, title, location).

    Returns:
        The rendered ``admin/review/passages.html``.
    """
    return render_to_string("admin/review/passages.html", {"passages": passages_now(passages)})


@admin.register(ReviewItem)
class ReviewItemAdmin(ReviewerOnlyAdmin):
    """The review queue: answers readers marked unhelpful, with the question, answer, comment and passages.

    The list is filtered by status and answer status and searched in the question, answer, comment and note; the item's
    page shows the passages with their scores and what became of them, the actions taken so far, and the forms of the
    four actions (resolve, re-ingest a document, quarantine a passage, make an evaluation question).
    """

    list_display = ("opened_at", "status", "short_question", "answer_status", "short_comment", "times_reported")
    list_filter = ("status", "answer_status", "opened_at")
    search_fields = ("question", "answer", "comment", "resolution_note")
    list_select_related = ("response",)
    date_hierarchy = "opened_at"
    change_form_template = "admin/review/reviewitem/change_form.html"
    fields = (
        "status", "question", "answer", "answer_status", "response_link", "comment", "times_reported",
        "passages_display", "actions_display", "resolution_note", "resolved_by", "resolved_at",
        "evaluation_question", "opened_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description=_("question"))
    def short_question(self, obj: ReviewItem) -> str:
        """Column "question": its first 100 characters."""
        return obj.question[:100]

    @admin.display(description=_("comment"))
    def short_comment(self, obj: ReviewItem) -> str:
        """Column "comment": the reader's comment, first 80 characters."""
        return obj.comment[:80]

    @admin.display(description=_("stored answer"))
    def response_link(self, obj: ReviewItem) -> str:
        """Field "stored answer": a link to the Response the item is about."""
        url = reverse("admin:chat_response_change", args=[obj.response_id])
        return format_html('<a href="{}">{} #{}</a>', url, _("Response"), obj.response_id)

    @admin.display(description=_("passages and scores"))
    def passages_display(self, obj: ReviewItem) -> str:
        """Field "passages and scores": the snapshot's passages, each with what became of it since."""
        return passages_table(obj.passages or [])

    @admin.display(description=_("actions taken"))
    def actions_display(self, obj: ReviewItem) -> str:
        """Field "actions taken": who did what to the item and when, oldest first."""
        return render_to_string("admin/review/actions.html", {"actions": obj.actions or []})

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The item's page, with the action forms and the documents and passages they offer (for a reviewer).

        The re-ingest form lists the documents of the cited passages (of all passages when none was cited).

        Args:
            request: the admin request.
            object_id: the item's id.
            form_url: passed to Django.
            extra_context: more template context, kept.

        Returns:
            The rendered change page.
        """
        item = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if item is not None and is_reviewer(request):
            passages = item.passages or []
            cited = [p for p in passages if p.get("cited")] or passages
            documents = {p["document_id"]: p.get("document_title", "") for p in cited if p.get("document_id")}
            context.update(
                review_forms={name: form() for name, form in ACTIONS.items()},
                review_documents=sorted(documents.items()),
                review_passages=passages,
                review_urls={name: reverse("admin:review_reviewitem_action", args=[item.pk, name]) for name in ACTIONS},
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        """The admin's URLs plus ``<item id>/do/<action>/``, the POST-only endpoint of the four actions.

        Returns:
            The URL patterns of this admin.
        """
        extra = [
            path(
                "<int:item_id>/do/<str:action>/",
                self.admin_site.admin_view(require_POST(self.action_view)),
                name="review_reviewitem_action",
            ),
        ]
        return extra + super().get_urls()

    def action_view(self, request: HttpRequest, item_id: int, action: str) -> HttpResponse:
        """One of the four review actions, posted from the item's page; bad input is a message, never a 500.

        Args:
            request: the admin request (POST only).
            item_id: the review item.
            action: ``resolve``, ``reingest``, ``quarantine`` or ``evaluate``.

        Returns:
            A redirect back to the item's page, with a success or an error message (the error's code shown).

        Raises:
            PermissionDenied: the user is not a reviewer.
            Http404: no such item.
        """
        if not is_reviewer(request):
            raise PermissionDenied
        item = get_object_or_404(ReviewItem, pk=item_id)
        back = HttpResponseRedirect(reverse("admin:review_reviewitem_change", args=[item.pk]))
        form_class = ACTIONS.get(action)
        if form_class is None:
            self.message_user(request, _("Unknown review action."), messages.ERROR)
            return back
        form = form_class(request.POST)
        if not form.is_valid():
            errors = "; ".join(f"{field}: {' '.join(str(e) for e in errs)}" for field, errs in form.errors.items())
            self.message_user(request, format_html("{} <code>invalid_input</code>", errors), messages.ERROR)
            return back
        data = form.cleaned_data
        done: str
        try:
            if action == "resolve":
                review_item_resolve(item=item, ctx=ActorContext.from_request(request), note=data["note"])
                done = str(_("The review item is resolved."))
            elif action == "reingest":
                document = review_item_reingest(
                    item=item, document_id=data["document_id"], ctx=ActorContext.from_request(request)
                )
                done = str(_("“%(title)s” is queued for ingestion again.")) % {"title": document.title}
            elif action == "quarantine":
                chunk = review_item_quarantine(
                    item=item, chunk_id=data["chunk_id"], ctx=ActorContext.from_request(request), reason=data["reason"]
                )
                done = str(_("Passage %(chunk)s is quarantined: retrieval no longer returns it.")) % {"chunk": chunk.pk}
            else:
                question = review_item_to_evaluation(
                    item=item,
                    expected_answer=data["expected_answer"],
                    expect_no_answer=data["expect_no_answer"],
                    ctx=ActorContext.from_request(request),
                )
                done = format_html(
                    '{} <a href="{}">#{}</a>',
                    _("Evaluation question saved:"),
                    reverse("admin:evaluation_evaluationquestion_change", args=[question.pk]),
                    question.pk,
                )
        except DocIntelError as exc:
            self.message_user(request, format_html("{} <code>{}</code>", exc.message, exc.code), messages.ERROR)
            return back
        self.message_user(request, done, messages.SUCCESS)
        return back


@admin.register(Replay)
class ReplayAdmin(ReviewerOnlyAdmin):
    """Replays of stored answers against today's index: what changed, and the stored and new passages side by side.

    A replay's page refreshes every few seconds until it is done or failed.
    """

    list_display = ("created_at", "response", "status", "answer_status", "model_name", "requested_by", "summary")
    list_filter = ("status", "answer_status", "model_name")
    list_select_related = ("response", "requested_by")
    date_hierarchy = "created_at"
    change_form_template = "admin/review/replay/change_form.html"
    fields = ("response", "status", "question", "requested_by", "created_at", "started_at", "finished_at")
    readonly_fields = fields

    @admin.display(description=_("what changed"))
    def summary(self, obj: Replay) -> str:
        """Column "what changed": the replay's summary lines, joined and cut to 200 characters (a dash when none)."""
        lines = (obj.changes or {}).get("summary") or []
        return "; ".join(str(line) for line in lines)[:200] or "—"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Replay]:
        """Replays with their answer, its question's reader and the librarian who asked (no query per row).

        Args:
            request: the admin request.

        Returns:
            The queryset of the list and the page.
        """
        return super().get_queryset(request).select_related("response__query__user", "requested_by")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The replay's page: the stored answer beside the new one, their passages, and what changed.

        Args:
            request: the admin request.
            object_id: the replay's id.
            form_url: passed to Django.
            extra_context: more template context, kept.

        Returns:
            The rendered change page (refreshing while the replay is not finished).
        """
        replay = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if replay is not None and is_reviewer(request):
            stored = response_passages(response=replay.response)
            new = replay_passages(replay=replay)
            context.update(
                replay=replay,
                stored=replay.response,
                stored_passages=passages_table(stored),
                new_passages=passages_table(new),
                changes=replay.changes or {},
                refresh=not replay.is_finished,
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        """The admin's URLs plus ``start/<response id>/``, the POST-only replay button of a Response page.

        Returns:
            The URL patterns of this admin.
        """
        extra = [
            path(
                "start/<int:response_id>/",
                self.admin_site.admin_view(require_POST(self.start_view)),
                name="review_replay_start",
            ),
        ]
        return extra + super().get_urls()

    def start_view(self, request: HttpRequest, response_id: int) -> HttpResponse:
        """The "replay against the current index" button of a Response page: queue it, open the replay.

        A replay of the same answer still pending or running is opened instead of queueing a second one.

        Args:
            request: the admin request (POST only).
            response_id: the stored answer to replay.

        Returns:
            A redirect to the replay's page.

        Raises:
            PermissionDenied: the user is not a reviewer.
            Http404: no such Response.
        """
        if not is_reviewer(request):
            raise PermissionDenied
        response = get_object_or_404(Response.objects.select_related("query"), pk=response_id)
        replay = replay_request(response=response, ctx=ActorContext.from_request(request))
        self.message_user(request, _("The replay is queued; this page shows it when it is done."), messages.INFO)
        return HttpResponseRedirect(reverse("admin:review_replay_change", args=[replay.pk]))
