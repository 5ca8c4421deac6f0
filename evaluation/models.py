"""Evaluation runs (``manage.py run_evaluation`` / ``make eval``) and the questions librarians add to every run."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EvaluationRun(models.Model):
    """One run of the evaluation suite (``manage.py run_evaluation`` / ``make eval``): metrics and per-item results.

    ``metrics`` holds the aggregate numbers (retrieval, citations, answers, abstention, RAGAS, safety) in the shape of
    the JSON report; ``items`` one row per asked question or attack with its scores and ``response_id``, so the admin
    can list the worst questions and link each to the Response that holds its provenance.
    """

    class Status(models.TextChoices):
        """Where a run is: ``running`` until it ends, then ``completed`` or ``failed`` (``error`` holds the trace)."""

        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    started_at = models.DateTimeField(_("started"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    scope = models.CharField(_("scope"), max_length=16, default="full", help_text=_("fast (make test) or full"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model_name = models.CharField(_("answering model"), max_length=128, blank=True)
    judge_model = models.CharField(_("judge model"), max_length=128, blank=True)
    judge_base_url = models.CharField(_("judge URL"), max_length=300, blank=True)
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    items = models.JSONField(_("per-question results"), default=list, blank=True)
    report_markdown = models.TextField(_("report (Markdown)"), blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        """Newest run first; the table keeps the name it had in ``chat``."""

        db_table = "chat_evaluationrun"  # moved from chat with a state-only migration: the table keeps its name
        verbose_name = _("evaluation run")
        verbose_name_plural = _("evaluation runs")
        ordering = ("-started_at",)

    def __str__(self) -> str:
        """Scope and start time (``fast evaluation 2026-12-01 14:05``): the run's name in the admin and its links."""
        return f"{self.scope} evaluation {self.started_at:%Y-%m-%d %H:%M}"

    def metric(self, *path: str) -> float | None:
        """A number from ``metrics`` by key path (``run.metric("qa", "overall", "recall@5")``), or None."""
        node: object = self.metrics
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


class EvaluationQuestion(models.Model):
    """A question librarians add to every evaluation run, often from a reader's thumbs-down feedback."""

    text = models.TextField(_("question"))
    language = models.CharField(_("language"), max_length=16, blank=True)
    expected_answer = models.TextField(
        _("expected answer"), blank=True, help_text=_("a short span the answer must contain; empty: not scored yet")
    )
    expect_no_answer = models.BooleanField(
        _("expect “the documents do not say”"), default=False, help_text=_("the library has no answer to it")
    )
    ask_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ask as"),
        help_text=_("the reader whose documents the question is answered from"),
    )
    active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    source_feedback = models.OneToOneField(
        "chat.Feedback", on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluation_question"
    )
    source_response = models.ForeignKey(
        "chat.Response", on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluation_questions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        """Newest question first; the table keeps the name it had in ``chat``."""

        db_table = "chat_evaluationquestion"
        verbose_name = _("evaluation question")
        verbose_name_plural = _("evaluation questions")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        """The question's first 80 characters, as the admin lists and links it."""
        return self.text[:80]
