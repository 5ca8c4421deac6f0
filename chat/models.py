"""Chat sessions, the questions readers ask (Query) and the answers they get (Response), with provenance."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ChatSession(models.Model):
    """A conversation; its UUID is the ``session_id`` of ``/ws/chat/{session_id}``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions")
    title = models.CharField(_("title"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    class Meta:
        """Most recently active first: ``updated_at`` moves whenever a question joins the session."""

        verbose_name = _("chat session")
        verbose_name_plural = _("chat sessions")
        ordering = ("-updated_at",)

    def __str__(self) -> str:
        """The title (the reader's, or the first question's), or the UUID of a session that has none yet."""
        return self.title or str(self.id)


class Query(models.Model):
    """One question, persisted before any answer is streamed."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="queries", null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queries")
    text = models.TextField(_("question"))
    standalone_text = models.TextField(_("standalone question"), blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    channel = models.CharField(_("channel"), max_length=16, default="ws", help_text=_("ws, api or sse"))
    guard_verdict = models.JSONField(_("input guard verdict"), default=dict, blank=True)
    created_at = models.DateTimeField(_("asked"), auto_now_add=True, db_index=True)

    class Meta:
        """Newest question first, as the librarians' question list shows them."""

        verbose_name = _("query")
        verbose_name_plural = _("queries")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        """The question's first 80 characters, as the admin names a Query (and a Response's question)."""
        return self.text[:80]


class Response(models.Model):
    """The answer to a Query, with the citations and everything needed to replay and explain it."""

    class Status(models.TextChoices):
        """How an answer ended; the row is written once, at the end, with one of the final states.

        ``streaming`` is the field's default and what a session's history reports for a question whose answer is
        not stored yet. ``completed``, ``extractive`` and ``no_answer`` are answers; the others end with a coded error.
        """

        STREAMING = "streaming", _("Streaming")
        COMPLETED = "completed", _("Completed")
        EXTRACTIVE = "extractive", _("Quoted from the sources")
        NO_ANSWER = "no_answer", _("Not in the documents")
        BLOCKED = "blocked", _("Blocked")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    query = models.OneToOneField(Query, on_delete=models.CASCADE, related_name="response")
    text = models.TextField(_("answer"), blank=True)
    citations = models.JSONField(_("citations"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.STREAMING)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    model_name = models.CharField(_("model"), max_length=128, blank=True)
    retrieved = models.JSONField(_("retrieved chunks"), default=list, blank=True, help_text=_("chunk ids with scores"))
    prompt_hash = models.CharField(_("prompt hash"), max_length=64, blank=True)
    guard_verdicts = models.JSONField(_("guard verdicts"), default=dict, blank=True)
    latency_ms = models.JSONField(_("latency split (ms)"), default=dict, blank=True)
    decision = models.JSONField(
        _("answer decision"),
        default=dict,
        blank=True,
        help_text=_("the time budget (measured speed, prompt tokens counted, sentences kept) and why this status"),
    )
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), default=0)
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        """Newest answer first, as the librarians' answer list shows them."""

        verbose_name = _("response")
        verbose_name_plural = _("responses")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        """The answer's first 80 characters, or its status in parentheses when it has no text (blocked, failed)."""
        return self.text[:80] or f"({self.status})"


class Feedback(models.Model):
    """A reader's thumbs up/down on an answer, with an optional comment."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.SmallIntegerField(_("rating"), choices=[(1, _("Helpful")), (-1, _("Not helpful"))])
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        """Newest first; one rating per reader and answer (a second submission updates the first)."""

        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=["response", "user"], name="feedback_one_per_user")]

    def __str__(self) -> str:
        """The rating as ``+1``/``-1`` and the comment's first 40 characters, as the admin lists feedback."""
        return f"{self.rating:+d} {self.comment[:40]}"
