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
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("citations"))
    def citations_display(self, obj: Response) -> str:
        return _citations_html(obj)

    @admin.display(description=_("answer decision"))
    def decision_display(self, obj: Response) -> str:
        return _decision_html(obj)


def _citations_html(obj: Response) -> str:
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
        return obj.text[:100]

    @admin.display(description=_("answer status"))
    def response_status(self, obj: Query) -> str:
        response = getattr(obj, "response", None)
        return response.get_status_display() if response is not None else "—"


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
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
        return obj.query.text[:80]

    @admin.display(description=_("total ms"))
    def total_ms(self, obj: Response) -> Any:
        return (obj.latency_ms or {}).get("total_ms", "—")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Response]:
        queryset: QuerySet[Response] = super().get_queryset(request)
        return queryset.annotate(feedback_sum=Sum("feedback__rating"))

    @admin.display(description=_("feedback"))
    def feedback_score(self, obj: Response) -> str:
        """The sum of the readers' ratings (+1 helpful, -1 not), empty when nobody rated the answer."""
        total = getattr(obj, "feedback_sum", None)
        return "" if total is None else f"{total:+d}"

    @admin.display(description=_("citations"))
    def citations_display(self, obj: Response) -> str:
        return _citations_html(obj)

    @admin.display(description=_("answer decision"))
    def decision_display(self, obj: Response) -> str:
        return _decision_html(obj)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "rating", "comment", "response")
    list_filter = ("rating", "created_at")
    search_fields = ("comment", "response__query__text")
    list_select_related = ("user", "response")
    actions = ("make_evaluation_questions",)

    def has_evaluation_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_librarian", False))  # superusers included

    @admin.action(description=_("Turn thumbs-down feedback into evaluation questions"), permissions=["evaluation"])
    def make_evaluation_questions(self, request: HttpRequest, queryset: Any) -> None:
        rows = queryset.select_related("response__query", "user")
        created, skipped = evaluation_questions_from_feedback(feedback=rows, actor=request.user)
        self.message_user(
            request,
            _("%(created)d evaluation questions created, %(skipped)d skipped (thumbs-up or already added).")
            % {"created": created, "skipped": skipped},
        )


@admin.register(ChatSession)
class ChatSessionAdmin(ReadOnlyAdmin):
    list_display = ("updated_at", "user", "title")
    search_fields = ("title", "user__email")
    list_select_related = ("user",)
