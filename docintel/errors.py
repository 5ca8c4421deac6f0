"""The one error family of DocIntel: every error a user can see has a stable code and an HTTP status.

The DRF exception handler (:mod:`docintel.api.exceptions`) renders these as ``{"code", "message", "detail"}``;
the WebSocket sends the same shape as ``{"type": "error", "code", "message"}``; a failed document stores the code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DocIntelError(Exception):
    """Base of all coded errors: a stable ``code``, an HTTP ``status`` and a message the user may read.

    Raise a subclass where the failure is known; transports render it (API, WebSocket, admin messages) and a
    failed document stores its code. Never put secrets or internal paths in ``message`` or ``detail``.
    """

    code: str = "internal_error"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."

    def __init__(self, message: str | None = None, *, detail: Any = None) -> None:
        """Make the error with a message for the user.

        Args:
            message: what went wrong, for the user; the class's ``default_message`` when omitted.
            detail: structured details (field errors, ids, ``retry_after``), rendered as ``detail``.
        """
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        """Return the public shape ``{"code", "message", "detail"}``."""
        return {"code": self.code, "message": self.message, "detail": self.detail}

    _by_code: ClassVar[dict[str, type[DocIntelError]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register each subclass under its code (the first class to claim a code keeps it) for :meth:`for_code`."""
        super().__init_subclass__(**kwargs)
        DocIntelError._by_code.setdefault(cls.code, cls)

    @classmethod
    def for_code(cls, code: str) -> type[DocIntelError]:
        """The error class of ``code`` (the family's base for a code it does not define)."""
        return cls._by_code.get(code, DocIntelError)


class InvalidInput(DocIntelError):
    """The request breaks a rule of the input (an empty question, an unknown language, a bad page): 400."""

    code = "invalid_input"
    status = 400
    default_message = "The request is not valid."


class NotAuthenticated(DocIntelError):
    """No signed-in, active user: 401 on the API, an error event and a closed socket on the WebSocket."""

    code = "not_authenticated"
    status = 401
    default_message = "Authentication is required."


class PermissionDenied(DocIntelError):
    """The user is known but may not do this (403); the API maps Django's and DRF's denials to this code."""

    code = "permission_denied"
    status = 403
    default_message = "You do not have permission to do this."


class NotFound(DocIntelError):
    """Nothing under this id, or nothing this user may see: a 404 never tells the two apart."""

    code = "not_found"
    status = 404
    default_message = "Not found."


class DocumentNotFound(NotFound):
    """No document with this id that the user may read (deleted, or outside their access groups)."""

    code = "document_not_found"
    default_message = "Document not found."


class SessionNotFound(NotFound):
    """No chat session with this id that belongs to the user."""

    code = "session_not_found"
    default_message = "Chat session not found."


class ResponseNotFound(NotFound):
    """No answer with this id in the user's own sessions (feedback, replays)."""

    code = "response_not_found"
    default_message = "Response not found."


class Conflict(DocIntelError):
    """The request is valid but the current state forbids it (an item already resolved, ...): 409."""

    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class DuplicateDocument(Conflict):
    """A file with the same SHA-256 is already in the library; ``detail`` names that document and its version."""

    code = "duplicate_document"
    default_message = "This file has already been uploaded."


class DocumentBusy(Conflict):
    """The document is being ingested or deleted; the change would race with that work."""

    code = "document_busy"
    default_message = "The document is being processed; try again when it has finished."


class VersionConflict(Conflict):
    """A document version cannot do this in its state (restore the current one, re-ingest a superseded one)."""

    code = "version_conflict"
    default_message = "This version of the document cannot be changed that way now."


class FileTooLarge(DocIntelError):
    """The upload is over the size limit of the portal (``DOCINTEL_MAX_UPLOAD_BYTES``): 413."""

    code = "file_too_large"
    status = 413
    default_message = "The file is larger than the portal accepts."


class UnsupportedFileType(DocIntelError):
    """The upload's content (sniffed, not its name) is of a type ingestion does not handle: 415."""

    code = "unsupported_file_type"
    status = 415
    default_message = "This type of file is not supported."


class DocumentRejected(DocIntelError):
    """A file that cannot be ingested (terminal): encrypted, malformed, a zip bomb, too many pages..."""

    code = "document_rejected"
    status = 422
    default_message = "The document cannot be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None) -> None:
        """Make the rejection, optionally with a more precise code the failed document stores.

        Args:
            message: why the file cannot be ingested, for the librarian.
            code: a precise reason (``encrypted``, ``malformed_file``, ``image_too_large``, ...) replacing
                ``document_rejected`` on this instance.
            detail: structured details.
        """
        super().__init__(message, detail=detail)
        if code:
            self.code = code


class GuardrailBlocked(DocIntelError):
    """The question or the answer was stopped by a guard (injection rules, LLM Guard, NeMo rails): 422."""

    code = "guardrail_blocked"
    status = 422
    default_message = "The request was blocked by the content safety rules."


class RateLimited(DocIntelError):
    """Over a limit (questions per minute, answers in progress): 429; ``detail.retry_after`` in seconds."""

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
    """The language-model server cannot be reached or refused the request."""

    code = "llm_unavailable"
    default_message = "The language model is unavailable."


class LLMTimeout(TransientError):
    """The language model did not start or finish answering within its time limit: 504."""

    code = "llm_timeout"
    status = 504
    default_message = "The language model did not answer in time."


class LLMBadResponse(TransientError):
    """The language model answered with something unusable (malformed, empty where text was due): 502."""

    code = "llm_bad_response"
    status = 502
    default_message = "The language model returned an invalid response."


class EmbeddingUnavailable(TransientError):
    """The embedding server cannot be reached: no question can be searched, no chunk indexed."""

    code = "embedding_unavailable"
    default_message = "The embedding service is unavailable."


class VectorStoreUnavailable(TransientError):
    """Qdrant cannot be reached or failed the operation; ingestion retries, a question fails."""

    code = "vector_store_unavailable"
    default_message = "The vector store is unavailable."
