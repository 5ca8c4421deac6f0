"""DRF glue shared by every API: the exception handler that renders ``{"code", "message", "detail"}``."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from docintel.errors import DocIntelError, RateLimited

log = structlog.get_logger(__name__)

_DRF_CODES: dict[type[Exception], str] = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
    drf_exceptions.ValidationError: "invalid_input",
    drf_exceptions.ParseError: "invalid_input",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every error as ``{"code", "message", "detail"}`` with the right HTTP status (``EXCEPTION_HANDLER``).

    A :class:`~docintel.errors.DocIntelError` keeps its own code and status (a rate limit adds ``Retry-After``);
    Django's 404 and 403 and DRF's own exceptions get a stable code from their class, field errors land in ``detail``.

    Args:
        exc: the exception a view raised.
        context: DRF's handler context (view, request), passed on to DRF's own handler.

    Returns:
        The error response, or None for an exception DRF does not handle (it then propagates as a 500).
    """
    if isinstance(exc, DocIntelError):
        log.info("api_error", code=exc.code, status=exc.status)
        headers = None
        if isinstance(exc, RateLimited) and isinstance(exc.detail, dict) and "retry_after" in exc.detail:
            headers = {"Retry-After": str(int(exc.detail["retry_after"]))}
        return Response(exc.as_dict(), status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, drf_exceptions.ValidationError):
        message, detail = "The request is not valid.", response.data
    else:
        data = response.data
        message = str(data.get("detail", "")) if isinstance(data, dict) else str(data)
        detail = {k: v for k, v in data.items() if k != "detail"} if isinstance(data, dict) else None
        if isinstance(exc, drf_exceptions.AuthenticationFailed) and isinstance(data, dict) and "code" in data:
            detail = {"reason": str(data["code"])}
    response.data = {"code": code, "message": message, "detail": detail or None}
    return response
