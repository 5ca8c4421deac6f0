"""Serializers of the documents API: parse input, render output; no work in ``create()``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from docintel.api.fields import RejectUnknownFieldsMixin
from documents.models import Chunk, Document


class AccessGroupSerializer(serializers.ModelSerializer[Group]):
    """An access group as the API names it: id and name."""

    class Meta:
        """Only the id and name of a Django Group are exposed."""

        model = Group
        fields = ("id", "name")


class DocumentErrorSerializer(serializers.Serializer[None]):
    """The ``error`` object of a failed document, ``{code, message}``, for the OpenAPI schema (built by hand)."""

    code = serializers.CharField()
    message = serializers.CharField()


class DocumentSerializer(serializers.ModelSerializer[Document]):
    """A document with its ingestion state; readers see only the access groups they belong to."""

    access_groups = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    chunk_count = serializers.IntegerField(read_only=True)
    family_id = serializers.IntegerField(
        read_only=True, help_text="Id of the document's first version: the same for every version of it."
    )
    version_state = serializers.ChoiceField(
        choices=["current", "pending", "superseded"],
        read_only=True,
        help_text="current: searched and cited; pending: a new or restored version being indexed, which becomes "
        "current when done; superseded: an old version, listed, not searched, can be restored.",
    )

    class Meta:
        """Every field read-only: uploads and new versions have their own input serializers."""

        model = Document
        fields = (
            "id",
            "title",
            "original_filename",
            "mime_type",
            "size_bytes",
            "sha256",
            "language",
            "page_count",
            "status",
            "stage",
            "progress",
            "error",
            "chunk_count",
            "access_groups",
            "family_id",
            "version",
            "is_current",
            "version_state",
            "superseded_at",
            "created_at",
            "updated_at",
            "processed_at",
        )
        read_only_fields = fields

    @extend_schema_field(AccessGroupSerializer(many=True))
    def get_access_groups(self, obj: Document) -> list[dict[str, Any]]:
        """The document's groups the user may see: all for a librarian, a reader's own groups otherwise.

        A reader does not learn which other groups may read the document. Reads the view's prefetch (no extra query).
        """
        user = self.context["request"].user
        groups = obj.access_groups.all()  # prefetched by the view
        return [{"id": g.pk, "name": g.name} for g in groups if user.is_librarian or g.pk in user.group_ids]

    @extend_schema_field(DocumentErrorSerializer(allow_null=True))
    def get_error(self, obj: Document) -> dict[str, str] | None:
        """``{code, message}`` when ingestion failed, else None."""
        if not obj.error_code:
            return None
        return {"code": obj.error_code, "message": obj.error_message}


class DocumentUploadSerializer(RejectUnknownFieldsMixin, serializers.Serializer[None]):
    """A multipart upload; the file is validated by the same service as the admin upload."""

    file = serializers.FileField(allow_empty_file=True, use_url=False)
    title = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    language = serializers.ChoiceField(choices=[("", "detect"), ("el", "Greek"), ("en", "English")], default="")
    access_groups = serializers.PrimaryKeyRelatedField(
        queryset=Group.objects.all(), many=True, required=False, help_text="Ids of the groups that may read it."
    )


class DocumentVersionUploadSerializer(RejectUnknownFieldsMixin, serializers.Serializer[None]):
    """A new version of a document (multipart): checked like an upload; the access groups are the document's."""

    file = serializers.FileField(allow_empty_file=True, use_url=False)
    title = serializers.CharField(
        required=False, allow_blank=True, max_length=300, default="", help_text="Default: the current title."
    )
    language = serializers.ChoiceField(choices=[("", "detect"), ("el", "Greek"), ("en", "English")], default="")


class DocumentVersionSerializer(serializers.ModelSerializer[Document]):
    """One version of a document, with its dates."""

    version_state = serializers.ChoiceField(choices=["current", "pending", "superseded"], read_only=True)
    error = serializers.SerializerMethodField()

    class Meta:
        """Every field read-only: a version is created by the version upload, never through this serializer."""

        model = Document
        fields = (
            "id",
            "version",
            "is_current",
            "version_state",
            "title",
            "original_filename",
            "mime_type",
            "size_bytes",
            "sha256",
            "status",
            "error",
            "created_at",
            "processed_at",
            "superseded_at",
        )
        read_only_fields = fields

    @extend_schema_field(DocumentErrorSerializer(allow_null=True))
    def get_error(self, obj: Document) -> dict[str, str] | None:
        """``{code, message}`` when this version's ingestion failed, else None."""
        if not obj.error_code:
            return None
        return {"code": obj.error_code, "message": obj.error_message}


class ChunkSerializer(serializers.ModelSerializer[Chunk]):
    """A passage as the chunks endpoint returns it: text, kind, pages, headings, box, tokens, quarantine flag."""

    heading = serializers.CharField(read_only=True)
    location = serializers.CharField(read_only=True)

    class Meta:
        """Every field read-only: passages change only by ingesting the document again."""

        model = Chunk
        fields = (
            "id",
            "ordinal",
            "kind",
            "text",
            "page_start",
            "page_end",
            "heading_path",
            "heading",
            "location",
            "bbox",
            "token_count",
            "language",
            "injection_flag",
        )
        read_only_fields = fields
