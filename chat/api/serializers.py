"""Serializers of the questions API: questions, answers with citations, chat sessions and feedback."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.fields import empty

from chat.models import ChatSession, Feedback
from docintel.api.fields import RejectUnknownFieldsMixin, StrictCharField


class QuestionTextField(StrictCharField):
    """The question's text: the schema states its rules (not blank, ``maxLength``), the service enforces them.

    The field takes any JSON string as sent (untrimmed, unchecked): :func:`chat.services.quota.question_check`
    applies the one rule every transport shares, so the API refuses exactly what the WebSocket refuses, with the
    same code. Only a missing, null or non-string value is refused here, as for any field.
    """

    def __init__(self, **kwargs: Any) -> None:
        """A string field that documents the limit ``DOCINTEL_WS_MAX_QUESTION_CHARS`` and the not-blank rule."""
        super().__init__(
            max_length=settings.DOCINTEL_WS_MAX_QUESTION_CHARS, not_blank=True, trim_whitespace=False, **kwargs
        )

    def run_validation(self, data: Any = empty) -> Any:
        """Required, not null, a string; nothing else (the length and blank rules are the service's)."""
        is_empty, value = self.validate_empty_values(data)
        if is_empty:
            return value
        if not isinstance(value, str):
            self.fail("invalid")
        return value


class QuestionSerializer(RejectUnknownFieldsMixin, serializers.Serializer[None]):
    """A question to answer from the documents you may read, on its own or as part of one of your chat sessions."""

    text = QuestionTextField(help_text="The question (not only white space).")
    session_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A chat session of yours; the question joins its history."
    )


class CitationSerializer(serializers.Serializer[None]):
    """One source of an answer: a passage you may read, where it is, a verbatim quote and a link to it.

    ``number`` is the ``[n]`` marker of the answer's text; the quote has credentials redacted.
    """

    number = serializers.IntegerField()
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document_title = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    page_end = serializers.IntegerField(allow_null=True)
    heading = serializers.CharField(allow_blank=True)
    location = serializers.CharField(allow_blank=True)
    quote = serializers.CharField(allow_blank=True)
    score = serializers.FloatField()
    url = serializers.CharField(help_text="The cited passage in the source view.")


class AnswerSerializer(serializers.Serializer[Any]):
    """The answer to a question: its text with ``[n]`` markers and the citations they refer to.

    ``query_id`` and ``response_id`` are the stored question and answer (for feedback and the session's history).
    """

    text = serializers.CharField(allow_blank=True, help_text="The answer in Markdown, with [n] citation markers.")
    html = serializers.CharField(
        allow_blank=True,
        help_text=(
            "The answer as the portal's pages show it: sanitised HTML (no script, no image), each [n] a link to the "
            "cited passage's source view; safe to insert into a page."
        ),
    )
    citations = CitationSerializer(many=True)
    response_id = serializers.IntegerField()
    query_id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["completed", "extractive", "no_answer"],
        help_text=(
            "completed: generated and supported by the cited passages; extractive: the passages' own sentences, "
            "quoted, because generation could not deliver (model down, too slow, stalled, blocked, unsupported or "
            "in another language); no_answer: the documents the reader may see do not say."
        ),
    )


class SessionSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer[ChatSession]):
    """A chat session of yours; an empty title becomes the first question asked in it."""

    title = StrictCharField(required=False, allow_blank=True, max_length=200)

    class Meta:
        """Only the title is written; the id and the dates are the server's."""

        model = ChatSession
        fields: tuple[str, ...] = ("id", "title", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class SessionListItemSerializer(SessionSerializer):
    """A session in your list: its first question (null before any) and when it was last active (its last question)."""

    first_question = serializers.CharField(read_only=True, allow_null=True)
    last_activity = serializers.DateTimeField(read_only=True)

    class Meta(SessionSerializer.Meta):
        """The session's fields and the two read-only list fields."""

        fields = (*SessionSerializer.Meta.fields, "first_question", "last_activity")


class SupersededSourceSerializer(serializers.Serializer[None]):
    """A document version an answer cited that another version has replaced since, and the one current now."""

    document_id = serializers.IntegerField(help_text="The cited version, no longer current.")
    title = serializers.CharField()
    version = serializers.IntegerField()
    current_document_id = serializers.IntegerField(allow_null=True, help_text="The version that is current now.")
    current_version = serializers.IntegerField(allow_null=True)


class HistoryItemSerializer(serializers.Serializer[None]):
    """One exchange of a session: the question and its stored answer (``streaming`` while it is not stored yet)."""

    query_id = serializers.IntegerField()
    question = serializers.CharField()
    response_id = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    citations = CitationSerializer(many=True)
    superseded = SupersededSourceSerializer(
        many=True, help_text="Cited document versions that another version has replaced since this answer."
    )


class SessionDetailSerializer(serializers.Serializer[Any]):
    """A chat session of yours with its exchanges, oldest first."""

    session = SessionSerializer()
    history = HistoryItemSerializer(many=True, help_text="The exchanges, oldest first.")


class FeedbackSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer[Feedback]):
    """Your rating of an answer (1 helpful, -1 not helpful) with an optional comment; a new rating replaces yours."""

    response_id = serializers.IntegerField(read_only=True)
    rating = serializers.ChoiceField(choices=[(1, "helpful"), (-1, "not helpful")])
    comment = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")

    class Meta:
        """Rating and comment are written; the answer's id and the time are the server's."""

        model = Feedback
        fields = ("response_id", "rating", "comment", "created_at")
        read_only_fields = ("response_id", "created_at")
