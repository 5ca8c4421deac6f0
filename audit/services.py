"""The single writer of AuditLog rows."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import models
from django.http import HttpRequest

from audit.models import AuditLog

log = structlog.get_logger(__name__)


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a forwarded header is set by whoever sends the request, so it is not evidence.
    ip = request.META.get("REMOTE_ADDR") or None
    return str(ip) if ip else None


def audit_log_write(
    *,
    action: str,
    actor: Any = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    target_repr: str = "",
    request: HttpRequest | None = None,
    ip_address: str | None = None,
    user_agent: str = "",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row.

    Args:
        action: what happened, snake_case (``document_uploaded``, ``admin_change``, ``guardrail_blocked``...).
        actor: the user who acted, or None for the system.
        target: the model instance acted on; fills target type, id and repr.
        target_type: the target's type when there is no instance at hand.
        target_id: the target's id when there is no instance at hand.
        target_repr: a human-readable name of the target.
        request: the HTTP request, for IP address, user agent and request id.
        ip_address: the client's IP when there is no HTTP request (WebSocket scope).
        user_agent: the client's user agent when there is no HTTP request.
        details: JSON-serialisable facts about the action.

    Returns:
        The new AuditLog row.
    """
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
        target_repr = target_repr or str(target)
    request_id = ""
    if request is not None:
        ip_address = _client_ip(request)
        user_agent = request.headers.get("User-Agent", "")
        request_id = str(getattr(request, "request_id", ""))
        if actor is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            actor = request.user
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    row = AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_repr=str(actor) if is_user else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_repr=target_repr[:255],
        ip_address=ip_address,
        user_agent=user_agent[:512],
        request_id=request_id,
        details=details or {},
    )
    log.info("audit_written", action=action, target_type=target_type, target_id=str(target_id))
    return row
