"""Sign-in lockout (django-axes) glue: who is signing in, from where, and the coded 429 once locked out.

The three sign-in routes (``/api/v1/auth/token/``, ``/accounts/login/``, ``/admin/login/``) all authenticate through
``django.contrib.auth.authenticate``, where ``axes.backends.AxesStandaloneBackend`` (first in
``AUTHENTICATION_BACKENDS``) refuses a locked-out client and the failure handler counts failures per email address
and client IP. The HTML routes get the 429 page from :func:`lockout_response` through ``axes.middleware``; the API
view raises :class:`docintel.errors.LoginLockedOut` itself (DRF wraps the request, so the middleware cannot see it).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from docintel.errors import LoginLockedOut


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The email address a sign-in attempt names, normalised so that case variants count as one account.

    The portal and admin forms pass ``username``, the JWT serializer passes ``email``.

    Args:
        request: the sign-in request; its body is read when ``credentials`` names no one.
        credentials: what axes or the view was given (``email`` or ``username``), or None.

    Returns:
        The address stripped, lower-cased and cut at 254 characters, or None when the attempt names none.
    """
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if not value:
        data = getattr(request, "data", None) or request.POST
        value = (data.get("email") or data.get("username")) if hasattr(data, "get") else None
    if not isinstance(value, str) or not value:
        return None
    return value.strip().lower()[:254]


def client_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR`` only, as the audit log records it: forwarded headers are set by the sender, not evidence.

    Behind a reverse proxy, run Daphne with ``--proxy-headers`` so that ``REMOTE_ADDR`` is the client's address.
    """
    value = request.META.get("REMOTE_ADDR")
    return str(value) if value else None


def lockout_retry_after() -> int:
    """Seconds until a locked-out client may try again (the cool-off restarts with each refused attempt)."""
    cooloff = settings.AXES_COOLOFF_TIME
    return int(cooloff.total_seconds()) if cooloff else 0


def lockout_error() -> LoginLockedOut:
    """The coded error of a locked-out sign-in, with the seconds to wait in ``detail.retry_after``."""
    return LoginLockedOut(detail={"retry_after": lockout_retry_after()})


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: 429 with ``Retry-After``; JSON under ``/api/``, the sign-in page otherwise.

    Axes passes ``(request, original_response, credentials)`` from the synchronous middleware and
    ``(request, credentials)`` from the asynchronous one; neither is needed here.
    """
    error = lockout_error()
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error.as_dict(), status=error.status)
    else:
        minutes = max(1, round(lockout_retry_after() / 60))
        response = render(
            request, "registration/locked_out.html", {"error": error, "minutes": minutes}, status=error.status
        )
    response["Retry-After"] = str(lockout_retry_after())
    return response
