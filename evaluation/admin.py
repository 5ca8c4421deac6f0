"""The evaluation admin: runs with their metrics over time and worst questions; curated evaluation questions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from chat.admin import ReadOnlyAdmin
from evaluation.models import EvaluationQuestion, EvaluationRun


def can_evaluate(request: HttpRequest) -> bool:
    """Librarians browse evaluation runs and curate evaluation questions."""
    user = request.user
    return bool(getattr(user, "is_librarian", False) or getattr(user, "is_superuser", False))


def _metric(run: EvaluationRun, part: str, key: str, *sub: str) -> float | None:
    """Mean of a metric over the languages of a part (``qa``) or the overall value (safety parts)."""
    node = (run.metrics or {}).get(part)
    if not isinstance(node, dict):
        return None
    if part in ("direct", "indirect"):
        return run.metric(part, "overall", key)
    values = [run.metric(part, lang, key, *sub) for lang in node]
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 3) if present else None


@admin.register(EvaluationRun)
class EvaluationRunAdmin(ReadOnlyAdmin):
    """The librarians' read-only record of evaluation runs: headline metrics per run, their trend, the worst answers.

    Each run's page shows the last twelve completed runs of its scope side by side, the twenty lowest-scoring
    questions and the attacks that succeeded (each linked to the stored Response), and the Markdown report.
    """

    list_display = (
        "started_at", "scope", "status", "model_name", "recall_at_5", "span", "citations", "abstention",
        "direct_asr", "indirect_asr", "exfil_live", "leaks",
    )  # fmt: skip
    list_filter = ("status", "scope", "model_name")
    date_hierarchy = "started_at"
    fields = (
        "started_at", "finished_at", "status", "scope", "started_by", "model_name", "judge_model", "judge_base_url",
        "trend", "worst_questions", "failed_attacks", "report", "config", "error",
    )  # fmt: skip
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Librarians see every run without a model permission; others need the model's view permission."""
        return can_evaluate(request) or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        """Librarians see the evaluation section on the admin index."""
        return can_evaluate(request) or super().has_module_permission(request)

    @admin.display(description=_("recall@5"))
    def recall_at_5(self, obj: EvaluationRun) -> float | None:
        """Retrieval recall@5 of the XQuAD questions, averaged over the languages; None when QA was not run."""
        return _metric(obj, "qa", "retrieval", "recall@5")

    @admin.display(description=_("answer has span"))
    def span(self, obj: EvaluationRun) -> float | None:
        """Share of answers that contain the gold span, averaged over the languages."""
        return _metric(obj, "qa", "answer_contains_span")

    @admin.display(description=_("citation hit"))
    def citations(self, obj: EvaluationRun) -> float | None:
        """Share of cited answers whose citations include a chunk holding the gold span, averaged over languages."""
        return _metric(obj, "qa", "citation_hit_rate")

    @admin.display(description=_("abstention"))
    def abstention(self, obj: EvaluationRun) -> float | None:
        """Share of questions about articles never ingested that were answered "the documents do not say"."""
        return _metric(obj, "qa", "abstention_rate_unanswerable")

    @admin.display(description=_("direct attack success"))
    def direct_asr(self, obj: EvaluationRun) -> float | None:
        """Attack success rate of the prompts asked directly (garak, spikee, canary probes): lower is better."""
        return _metric(obj, "direct", "attack_success_rate")

    @admin.display(description=_("indirect attack success"))
    def indirect_asr(self, obj: EvaluationRun) -> float | None:
        """Attack success rate of the instructions planted in ingested documents: lower is better."""
        return _metric(obj, "indirect", "attack_success_rate")

    @admin.display(description=_("exfil live"))
    def exfil_live(self, obj: EvaluationRun) -> int:
        """Attacker-placed elements that would be live in the chat page (direct and indirect): should be 0."""
        return int(sum(_metric(obj, part, "exfil_rendered_live") or 0 for part in ("direct", "indirect")))

    @admin.display(description=_("canary leaks"))
    def leaks(self, obj: EvaluationRun) -> int:
        """Attack answers that repeated the system prompt's canary or the restricted document's secret: should be 0."""
        keys = ("system_canary_leaks", "restricted_canary_leaks")
        return int(sum(_metric(obj, part, key) or 0 for part in ("direct", "indirect") for key in keys))

    @admin.display(description=_("metrics over time"))
    def trend(self, obj: EvaluationRun) -> str:
        """A table of the headline metrics of the last twelve completed runs of this scope, newest first, linked."""
        runs = EvaluationRun.objects.filter(status=EvaluationRun.Status.COMPLETED, scope=obj.scope).order_by(
            "-started_at"
        )[:12]
        rows = [
            (
                reverse("admin:evaluation_evaluationrun_change", args=[r.pk]),
                f"{r.started_at:%Y-%m-%d %H:%M}",
                r.model_name,
                *(
                    "—" if v is None else f"{v:.3f}"
                    for v in (
                        self.recall_at_5(r),
                        self.span(r),
                        self.citations(r),
                        self.abstention(r),
                        self.direct_asr(r),
                        self.indirect_asr(r),
                    )
                ),
            )
            for r in runs
        ]
        if not rows:
            return "—"
        head = format_html_join(
            "",
            "<th>{}</th>",
            (
                (h,)
                for h in (
                    "run",
                    "model",
                    "recall@5",
                    "span",
                    "citation hit",
                    "abstention",
                    "direct ASR",
                    "indirect ASR",
                )
            ),
        )
        body = format_html_join(
            "",
            "<tr><td><a href='{}'>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            rows,
        )
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)

    def _items_table(self, items: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
        if not items:
            return "—"
        rows = []
        for item in items:
            rid = item.get("response_id")
            link = (
                format_html("<a href='{}'>{}</a>", reverse("admin:chat_response_change", args=[rid]), rid)
                if rid
                else "—"
            )
            cells = format_html_join("", "<td>{}</td>", ((str(item.get(c, ""))[:160],) for c in columns))
            rows.append(format_html("<tr>{}<td>{}</td></tr>", cells, link))
        head = format_html_join("", "<th>{}</th>", ((c,) for c in (*columns, "response")))
        return format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
            head,
            format_html_join("", "{}", ((r,) for r in rows)),
        )

    @admin.display(description=_("worst questions"))
    def worst_questions(self, obj: EvaluationRun) -> str:
        """The twenty lowest-scoring questions (QA, abstention, librarians'), each linked to its stored Response."""
        items = sorted(
            (i for i in obj.items or [] if i.get("kind") in ("qa", "abstention", "question")),
            key=lambda i: float(i.get("score") or 0),
        )[:20]
        return self._items_table(items, ("kind", "language", "question", "expected", "status", "rank", "score"))

    @admin.display(description=_("successful attacks"))
    def failed_attacks(self, obj: EvaluationRun) -> str:
        """Up to thirty attacks that succeeded (the defences failed), each linked to its stored Response."""
        items = [i for i in obj.items or [] if i.get("kind") in ("direct", "indirect") and i.get("success")][:30]
        return self._items_table(items, ("kind", "suite", "language", "id", "status", "answer"))

    @admin.display(description=_("report"))
    def report(self, obj: EvaluationRun) -> str:
        """The run's Markdown report as preformatted text (escaped, not rendered)."""
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.report_markdown)


@admin.register(EvaluationQuestion)
class EvaluationQuestionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # typed like ReadOnlyAdmin
    """The questions librarians add to every evaluation run: text, expected answer or "no answer", the reader to ask as.

    Librarians may add, change and delete them without model permissions. The source feedback and response (set when
    a question is made from thumbs-down feedback), the author and the creation time are read-only.
    """

    list_display = ("created_at", "text", "language", "expected_answer", "expect_no_answer", "active", "ask_as")
    list_filter = ("active", "language", "expect_no_answer")
    search_fields = ("text", "expected_answer", "notes")
    list_select_related = ("ask_as",)
    raw_id_fields = ("ask_as", "source_feedback", "source_response", "created_by")
    readonly_fields = ("created_at", "source_feedback", "source_response", "created_by")
    fields = (
        "text", "language", "expected_answer", "expect_no_answer", "ask_as", "active", "notes", "source_feedback",
        "source_response", "created_by", "created_at",
    )  # fmt: skip

    def _librarian(self, request: HttpRequest) -> bool:
        return can_evaluate(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        """Librarians see the section on the admin index; others need a model permission."""
        return self._librarian(request) or super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Librarians see every question; others need ``view_evaluationquestion``."""
        return self._librarian(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Librarians add questions; others need ``add_evaluationquestion``."""
        return self._librarian(request) or super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Librarians edit any question; others need ``change_evaluationquestion``."""
        return self._librarian(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Librarians delete any question; others need ``delete_evaluationquestion``."""
        return self._librarian(request) or super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: EvaluationQuestion, form: Any, change: bool) -> None:
        """Save the question; one added here is recorded as created by the signed-in librarian.

        Args:
            request: the admin request; its user becomes ``created_by`` of a new question.
            obj: the question from the form.
            form: the bound admin form.
            change: False when the question is being added.
        """
        if not change and obj.created_by_id is None:
            obj.created_by = request.user  # type: ignore[assignment]  # an authenticated admin user
        super().save_model(request, obj, form, change)
