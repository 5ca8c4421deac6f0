"""The librarians' review queue (ReviewItem, opened by a reader's thumbs-down) and admin replays of answers (Replay).

Neither is ever shown to readers: they live only here and in the admin, never in a chat session's history or the API.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReviewItemQuerySet(models.QuerySet["ReviewItem"]):
    """Reads of the review queue by state."""

    def open(self) -> ReviewItemQuerySet:
        """Items waiting for a librarian."""
        return self.filter(status=ReviewItem.Status.OPEN)


class ReviewItem(models.Model):
    """One answer a reader found unhelpful, with what a librarian needs to judge it and what they did about it.

    One item per Response (the only reader who may rate an answer is the one who asked): a second thumbs-down or a
    changed comment updates it, a thumbs-down after it was closed opens it again. The question, the answer and the
    passages with their scores are copied when the item opens, so a later re-ingestion that replaces the chunks
    does not change what the librarian reviews.
    """

    class Status(models.TextChoices):
        """Where an item stands: open, resolved by a librarian, or withdrawn by the reader (a later thumbs-up)."""

        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")
        WITHDRAWN = "withdrawn", _("Withdrawn by the reader")

    response = models.OneToOneField(
        "chat.Response", on_delete=models.CASCADE, related_name="review_item", verbose_name=_("answer")
    )
    feedback = models.ForeignKey(
        "chat.Feedback", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("feedback")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    question = models.TextField(_("question"))
    answer = models.TextField(_("answer"), blank=True)
    answer_status = models.CharField(_("answer status"), max_length=16, blank=True)
    comment = models.TextField(_("reader's comment"), blank=True)
    passages = models.JSONField(
        _("passages"),
        default=list,
        blank=True,
        help_text=_("the retrieved passages with their scores; cited ones marked"),
    )
    actions = models.JSONField(_("actions taken"), default=list, blank=True)
    resolution_note = models.TextField(_("resolution note"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    evaluation_question = models.ForeignKey(
        "evaluation.EvaluationQuestion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    times_reported = models.PositiveIntegerField(_("thumbs-down count"), default=1)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ReviewItemQuerySet.as_manager()

    class Meta:
        """Newest first; indexed by status and opening time, for the open-items count and the filtered list."""

        verbose_name = _("review item")
        verbose_name_plural = _("review items")
        ordering = ("-opened_at",)
        indexes = [models.Index(fields=["status", "opened_at"], name="reviewitem_status_opened")]

    def __str__(self) -> str:
        """The first 80 characters of the question: how the admin names the item."""
        return self.question[:80]

    def cited_passages(self) -> list[dict[str, Any]]:
        """The item's passages the answer cited, in their stored order (the snapshot, not today's chunks).

        Returns:
            The passage entries marked ``cited``.
        """
        return [p for p in self.passages if isinstance(p, dict) and p.get("cited")]


class Replay(models.Model):
    """A stored Response's question asked again against the current index, for a librarian; never a reader's answer.

    The new answer's text, citations, passages with scores, model, decision and timings are kept here (not as a
    Query/Response), with ``changes``: what differs from the stored answer and why (passages added or removed, a
    cited document deleted or superseded since, another model, another answer).
    """

    class Status(models.TextChoices):
        """Where a replay stands: pending (queued), running, then done or failed."""

        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    response = models.ForeignKey(
        "chat.Response", on_delete=models.CASCADE, related_name="replays", verbose_name=_("stored answer")
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    question = models.TextField(_("question replayed"))
    answer_status = models.CharField(_("new answer status"), max_length=16, blank=True)
    text = models.TextField(_("new answer"), blank=True)
    citations = models.JSONField(_("citations"), default=list, blank=True)
    retrieved = models.JSONField(_("passages with scores"), default=list, blank=True)
    model_name = models.CharField(_("model"), max_length=128, blank=True)
    decision = models.JSONField(_("answer decision"), default=dict, blank=True)
    latency_ms = models.JSONField(_("latency split (ms)"), default=dict, blank=True)
    guard_verdicts = models.JSONField(_("guard verdicts"), default=dict, blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    replay_settings = models.JSONField(_("settings"), default=dict, blank=True)
    changes = models.JSONField(_("what changed"), default=dict, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    error_message = models.TextField(_("error message"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        """Newest first, on the replay list."""

        verbose_name = _("replay")
        verbose_name_plural = _("replays")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        """``replay of response <id> (<status>)``: how the admin names the replay."""
        return f"replay of response {self.response_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        """True once the replay is done or failed: its page stops refreshing and a new replay may start."""
        return self.status in (self.Status.DONE, self.Status.FAILED)
