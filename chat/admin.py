"""Read-only views of questions, answers and feedback, so librarians can replay and explain an answer."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from chat.models import ChatSession, Feedback, Query, Response
from evaluation.services.questions import evaluation_questions_from_feedback


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # base for several typed admins
    """Base of the admins of what the product recorded (questions, answers, feedback, sessions, evaluation runs).

    Librarians read those rows to explain an answer; nobody adds, edits or deletes them in the admin, so the record
    stays what the services wrote. Actions declared by a subclass still run.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """No row is added by hand: the services write them.

        Args:
            request: the librarian's admin request.
            obj: the row the page shows, or None for the list.

        Returns:
            False, always.
        """
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """No row is edited: the page is a read-only view of what was recorded.

        Args:
            request: the librarian's admin request.
            obj: the row the page shows, or None for the list.

        Returns:
            False, always.
        """
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """No row is deleted from the admin (no delete button, no bulk delete action).

        Args:
            request: the librarian's admin request.
            obj: the row the page shows, or None for the list.

        Returns:
            False, always.
        """
        return False


def _decision_html(obj: Response) -> str:
    """Why this status: the time budget (measured speed, tokens counted, sentences kept) and the checks."""
    decision = obj.decision or {}
    budget = decision.get("budget") or {}
    speed = budget.get("speed") or {}
    summary = _("%(reason)s · prompt %(counted)s of %(allowed)s tokens · %(tps)s prompt tokens/s (%(how)s)") % {
        "reason": decision.get("reason", "—"),
        "counted": budget.get("prompt_tokens_counted", "—"),
        "allowed": budget.get("allowed_tokens", "—"),
        "tps": speed.get("prompt_tps", "—"),
        "how": budget.get("tokenizer") or "—",
    }
    return format_html(
        "<p>{}</p><pre>{}</pre>",
        summary,
        json.dumps(decision, ensure_ascii=False, indent=1),
    )


class ResponseInline(admin.StackedInline[Response, Query]):
    """The answer under its question on the Query page, read-only, with everything that explains it.

    Status and error code, text, the kept citations, the budget decision, latencies, token counts, the retrieved
    chunks with their scores, the prompt hash and the guard verdicts.
    """

    model = Response
    can_delete = False
    extra = 0
    fields = (
        "status",
        "error_code",
        "text",
        "citations_display",
        "model_name",
        "decision_display",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "retrieved",
        "prompt_hash",
        "guard_verdicts",
        "completed_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """No answer is added by hand: only the answering service writes a Response.

        Args:
            request: the librarian's admin request.
            obj: the Query the page shows, or None for the list.

        Returns:
            False, always.
        """
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The answer is shown as it was recorded, never edited.

        Args:
            request: the librarian's admin request.
            obj: the Query the page shows, or None for the list.

        Returns:
            False, always.
        """
        return False

    @admin.display(description=_("citations"))
    def citations_display(self, obj: Response) -> str:
        """The kept citations as a numbered list (document, location, chunk id); a dash when there are none."""
        return _citations_html(obj)

    @admin.display(description=_("answer decision"))
    def decision_display(self, obj: Response) -> str:
        """Why the answer has its status: the budget in one line, then the whole decision as JSON."""
        return _decision_html(obj)


def _citations_html(obj: Response) -> str:
    """The citations of ``obj`` as an HTML ordered list, every value escaped; a dash when there are none."""
    rows = [
        (c.get("number", ""), c.get("document_title", ""), c.get("location", ""), c.get("chunk_id", ""))
        for c in (obj.citations or [])
        if isinstance(c, dict)
    ]
    if not rows:
        return "—"
    return format_html("<ol>{}</ol>", format_html_join("", "<li>[{}] {} — {} (chunk {})</li>", rows))


@admin.register(Query)
class QueryAdmin(ReadOnlyAdmin):
    """The librarians' question list: who asked what, in which language and channel, and how the answer ended.

    The question's page shows its input-guard verdict and, inline, the answer with its provenance.
    """

    list_display = ("created_at", "user", "short_text", "language", "channel", "response_status")
    list_filter = ("channel", "language", "response__status", "created_at")
    search_fields = ("text", "user__email")
    list_select_related = ("user", "response")
    date_hierarchy = "created_at"
    inlines = (ResponseInline,)
    fields = ("user", "session", "text", "standalone_text", "language", "channel", "guard_verdict", "created_at")
    readonly_fields = fields

    @admin.display(description=_("question"))
    def short_text(self, obj: Query) -> str:
        """The question's first 100 characters, for the list column."""
        return obj.text[:100]

    @admin.display(description=_("answer status"))
    def response_status(self, obj: Query) -> str:
        """The answer's status label, or a dash while the question has no stored answer."""
        response = getattr(obj, "response", None)
        return response.get_status_display() if response is not None else "—"


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    """The librarians' answer list: status, error code, model, total time and the readers' feedback score.

    The answer's page explains it (citations, budget decision, guard verdicts, retrieved chunks) and, through the
    review app's template, offers a replay of the question against today's index.
    """

    list_display = ("created_at", "query_text", "status", "error_code", "model_name", "total_ms", "feedback_score")
    list_filter = ("status", "model_name", "created_at")
    search_fields = ("text", "query__text")
    list_select_related = ("query",)
    date_hierarchy = "created_at"
    change_form_template = "admin/review/response_change_form.html"  # "replay against the current index" (review)
    fields = (
        "query",
        "status",
        "error_code",
        "text",
        "citations_display",
        "model_name",
        "decision_display",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "retrieved",
        "prompt_hash",
        "guard_verdicts",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields

    @admin.display(description=_("question"))
    def query_text(self, obj: Response) -> str:
        """The question answered, cut to 80 characters for the list."""
        return obj.query.text[:80]

    @admin.display(description=_("total ms"))
    def total_ms(self, obj: Response) -> Any:
        """The whole answer's time in milliseconds (``latency_ms["total_ms"]``), or a dash for a row without it."""
        return (obj.latency_ms or {}).get("total_ms", "—")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Response]:
        """The answers with ``feedback_sum`` (their ratings added up) annotated in the same query, for the list."""
        queryset: QuerySet[Response] = super().get_queryset(request)
        return queryset.annotate(feedback_sum=Sum("feedback__rating"))

    @admin.display(description=_("feedback"))
    def feedback_score(self, obj: Response) -> str:
        """The sum of the readers' ratings (+1 helpful, -1 not), empty when nobody rated the answer."""
        total = getattr(obj, "feedback_sum", None)
        return "" if total is None else f"{total:+d}"

    @admin.display(description=_("citations"))
    def citations_display(self, obj: Response) -> str:
        """The kept citations as a numbered list (document, location, chunk id); a dash when there are none."""
        return _citations_html(obj)

    @admin.display(description=_("answer decision"))
    def decision_display(self, obj: Response) -> str:
        """Why the answer has its status: the budget in one line, then the whole decision as JSON."""
        return _decision_html(obj)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    """The readers' thumbs up and down with their comments, newest first.

    Librarians turn thumbs-down rows into evaluation questions (the action), so a bad answer becomes a test case.
    """

    list_display = ("created_at", "user", "rating", "comment", "response")
    list_filter = ("rating", "created_at")
    search_fields = ("comment", "response__query__text")
    list_select_related = ("user", "response")
    actions = ("make_evaluation_questions",)

    def has_evaluation_permission(self, request: HttpRequest) -> bool:
        """Who may run the evaluation-questions action (``permissions=["evaluation"]``): librarians and superusers."""
        return bool(getattr(request.user, "is_librarian", False))  # superusers included

    @admin.action(description=_("Turn thumbs-down feedback into evaluation questions"), permissions=["evaluation"])
    def make_evaluation_questions(self, request: HttpRequest, queryset: Any) -> None:
        """Create one evaluation question per selected thumbs-down row and tell the librarian what was created.

        Idempotent: thumbs-up rows and rows already turned into a question are skipped and counted as such.

        Args:
            request: the librarian's admin request (the actor of the audit rows, and where the message goes).
            queryset: the selected Feedback rows.
        """
        rows = queryset.select_related("response__query", "user")
        created, skipped = evaluation_questions_from_feedback(feedback=rows, actor=request.user)
        self.message_user(
            request,
            _("%(created)d evaluation questions created, %(skipped)d skipped (thumbs-up or already added).")
            % {"created": created, "skipped": skipped},
        )


@admin.register(ChatSession)
class ChatSessionAdmin(ReadOnlyAdmin):
    """The readers' chat sessions by owner and title, most recently active first (their questions: the query list)."""

    list_display = ("updated_at", "user", "title")
    search_fields = ("title", "user__email")
    list_select_related = ("user",)
