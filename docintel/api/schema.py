"""OpenAPI helpers shared by every API: the error body and the error responses an operation documents."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer[None]):
    """The one error shape of the API (and of the WebSocket): a stable code, a message, optional details."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. document_not_found.")
    message = serializers.CharField(help_text="Human-readable message.")
    detail = serializers.JSONField(allow_null=True, help_text="Structured details (field errors, ids), or null.")


_DESCRIPTIONS = {
    400: "Invalid input (invalid_input).",
    401: "Not authenticated (not_authenticated, authentication_failed).",
    403: "Not allowed (permission_denied).",
    404: "Not found, or not visible to this user.",
    405: "Method not allowed (method_not_allowed).",
    409: "Conflict (duplicate_document, document_busy, version_conflict).",
    413: "File too large (file_too_large).",
    415: "Unsupported file or media type (unsupported_file_type, unsupported_media_type).",
    422: "Refused (document_rejected, guardrail_blocked).",
    429: "Too many requests (rate_limited, login_locked_out).",
    502: "The language model returned an invalid response (llm_bad_response).",
    503: "A dependency is unavailable (llm_unavailable, embedding_unavailable, vector_store_unavailable).",
    504: "The language model did not answer in time (llm_timeout).",
}

AUTH_ERRORS = (401, 405)
"""Errors every authenticated operation can answer."""


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for ``statuses`` (plus 401 and 405, which every authenticated route has)."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in sorted({*AUTH_ERRORS, *statuses})
    }
