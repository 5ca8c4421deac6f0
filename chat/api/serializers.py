"""Serializers of the questions API: questions, answers with citations, chat sessions and feedback."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from chat.models import ChatSession, Feedback
from docintel.api.fields import RejectUnknownFieldsMixin, StrictCharField


class QuestionSerializer(RejectUnknownFieldsMixin, serializers.Serializer[None]):
    text = StrictCharField(
        max_length=settings.DOCINTEL_WS_MAX_QUESTION_CHARS,
        not_blank=True,
        help_text="The question (not only white space).",
    )
    session_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A chat session of yours; the question joins its history."
    )


class CitationSerializer(serializers.Serializer[None]):
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
    text = serializers.CharField(allow_blank=True)
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
    title = StrictCharField(required=False, allow_blank=True, max_length=200)

    class Meta:
        model = ChatSession
        fields: tuple[str, ...] = ("id", "title", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class SessionListItemSerializer(SessionSerializer):
    first_question = serializers.CharField(read_only=True, allow_null=True)
    last_activity = serializers.DateTimeField(read_only=True)

    class Meta(SessionSerializer.Meta):
        fields = (*SessionSerializer.Meta.fields, "first_question", "last_activity")


class SupersededSourceSerializer(serializers.Serializer[None]):
    document_id = serializers.IntegerField(help_text="The cited version, no longer current.")
    title = serializers.CharField()
    version = serializers.IntegerField()
    current_document_id = serializers.IntegerField(allow_null=True, help_text="The version that is current now.")
    current_version = serializers.IntegerField(allow_null=True)


class HistoryItemSerializer(serializers.Serializer[None]):
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
    session = SessionSerializer()
    history = HistoryItemSerializer(many=True, help_text="The exchanges, oldest first.")


class FeedbackSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer[Feedback]):
    response_id = serializers.IntegerField(read_only=True)
    rating = serializers.ChoiceField(choices=[(1, "helpful"), (-1, "not helpful")])
    comment = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")

    class Meta:
        model = Feedback
        fields = ("response_id", "rating", "comment", "created_at")
        read_only_fields = ("response_id", "created_at")
