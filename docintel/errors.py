"""The one error family of DocIntel: every error a user can see has a stable code and an HTTP status.

The DRF exception handler (:mod:`docintel.api.exceptions`) renders these as ``{"code", "message", "detail"}``;
the WebSocket sends the same shape as ``{"type": "error", "code", "message"}``; a failed document stores the code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DocIntelError(Exception):
    """Base of all coded errors."""

    code: str = "internal_error"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."

    def __init__(self, message: str | None = None, *, detail: Any = None) -> None:
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        """Return the public shape ``{"code", "message", "detail"}``."""
        return {"code": self.code, "message": self.message, "detail": self.detail}

    _by_code: ClassVar[dict[str, type[DocIntelError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        DocIntelError._by_code.setdefault(cls.code, cls)

    @classmethod
    def for_code(cls, code: str) -> type[DocIntelError]:
        """The error class of ``code`` (the family's base for a code it does not define)."""
        return cls._by_code.get(code, DocIntelError)


class InvalidInput(DocIntelError):
    code = "invalid_input"
    status = 400
    default_message = "The request is not valid."


class NotAuthenticated(DocIntelError):
    code = "not_authenticated"
    status = 401
    default_message = "Authentication is required."


class PermissionDenied(DocIntelError):
    code = "permission_denied"
    status = 403
    default_message = "You do not have permission to do this."


class NotFound(DocIntelError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class DocumentNotFound(NotFound):
    code = "document_not_found"
    default_message = "Document not found."


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_message = "Chat session not found."


class ResponseNotFound(NotFound):
    code = "response_not_found"
    default_message = "Response not found."


class Conflict(DocIntelError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class DuplicateDocument(Conflict):
    code = "duplicate_document"
    default_message = "This file has already been uploaded."


class DocumentBusy(Conflict):
    code = "document_busy"
    default_message = "The document is being processed; try again when it has finished."


class VersionConflict(Conflict):
    """A document version cannot do this in its state (restore the current one, re-ingest a superseded one)."""

    code = "version_conflict"
    default_message = "This version of the document cannot be changed that way now."


class FileTooLarge(DocIntelError):
    code = "file_too_large"
    status = 413
    default_message = "The file is larger than the portal accepts."


class UnsupportedFileType(DocIntelError):
    code = "unsupported_file_type"
    status = 415
    default_message = "This type of file is not supported."


class DocumentRejected(DocIntelError):
    """A file that cannot be ingested (terminal): encrypted, malformed, a zip bomb, too many pages..."""

    code = "document_rejected"
    status = 422
    default_message = "The document cannot be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        if code:
            self.code = code


class GuardrailBlocked(DocIntelError):
    code = "guardrail_blocked"
    status = 422
    default_message = "The request was blocked by the content safety rules."


class RateLimited(DocIntelError):
    code = "rate_limited"
    status = 429
    default_message = "Too many requests; slow down."


class LoginLockedOut(RateLimited):
    """Too many failed sign-ins for this email address from this client; ``detail.retry_after`` in seconds."""

    code = "login_locked_out"
    default_message = "Too many failed sign-in attempts; try again later."


class TransientError(DocIntelError):
    """A dependency is unavailable for now; the operation may be retried."""

    code = "service_unavailable"
    status = 503
    default_message = "A service the portal depends on is unavailable."


class LLMUnavailable(TransientError):
    code = "llm_unavailable"
    default_message = "The language model is unavailable."


class LLMTimeout(TransientError):
    code = "llm_timeout"
    status = 504
    default_message = "The language model did not answer in time."


class LLMBadResponse(TransientError):
    code = "llm_bad_response"
    status = 502
    default_message = "The language model returned an invalid response."


class EmbeddingUnavailable(TransientError):
    code = "embedding_unavailable"
    default_message = "The embedding service is unavailable."


class VectorStoreUnavailable(TransientError):
    code = "vector_store_unavailable"
    default_message = "The vector store is unavailable."
