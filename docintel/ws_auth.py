"""WebSocket authentication by a JWT passed as a ``Sec-WebSocket-Protocol`` value (never in the query string).

The client offers the subprotocols ``["bearer", "<access token>"]``; the consumer accepts with ``"bearer"``.
Without a token the Django session (set by :func:`channels.auth.AuthMiddlewareStack`) decides.
"""

from __future__ import annotations

from typing import Any

import structlog
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

log = structlog.get_logger(__name__)

BEARER_SUBPROTOCOL = "bearer"


def token_from_subprotocols(subprotocols: list[str]) -> str | None:
    """The value after ``bearer`` in the offered subprotocols, if any."""
    for index, value in enumerate(subprotocols):
        if value == BEARER_SUBPROTOCOL and index + 1 < len(subprotocols):
            return subprotocols[index + 1]
    return None


def _user_for_token(raw: str) -> tuple[Any, int | None]:
    from rest_framework_simplejwt.exceptions import TokenError  # noqa: PLC0415 - loads settings lazily
    from rest_framework_simplejwt.tokens import AccessToken  # noqa: PLC0415 - imports the blacklist models

    try:
        token = AccessToken(raw)  # type: ignore[arg-type]  # simplejwt accepts str tokens
    except TokenError:
        return AnonymousUser(), None
    from rest_framework_simplejwt.settings import api_settings  # noqa: PLC0415 - read when a token arrives
    from rest_framework_simplejwt.utils import get_md5_hash_password  # noqa: PLC0415 - read when a token arrives

    user_id = token.get("user_id")
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return AnonymousUser(), None
    # as for the HTTP API (CHECK_REVOKE_TOKEN): a password change revokes the tokens issued before it
    if api_settings.CHECK_REVOKE_TOKEN and token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        return AnonymousUser(), None
    return user, int(token["exp"])


class JWTSubprotocolAuthMiddleware:
    """Sets ``scope["user"]`` (and ``scope["jwt_exp"]``) from a bearer subprotocol token."""

    def __init__(self, inner: Any) -> None:
        """Wrap ``inner``, the ASGI application (URL router) that receives the authenticated scope."""
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        """Authenticate one connection and hand it on; ``scope["auth_method"]`` says how (``jwt`` or ``session``).

        An offered but invalid token yields an anonymous user (the consumer refuses it), never the session's user.

        Args:
            scope: the connection's ASGI scope, with the offered ``subprotocols``.
            receive: the ASGI receive channel, passed on.
            send: the ASGI send channel, passed on.

        Returns:
            Whatever the inner application returns.
        """
        raw = token_from_subprotocols(list(scope.get("subprotocols") or []))
        if raw is not None:
            user, exp = await database_sync_to_async(_user_for_token)(raw)
            scope = {**scope, "user": user, "jwt_exp": exp, "auth_method": "jwt"}
            if exp is None:
                log.info("ws_jwt_rejected")
        else:
            scope = {**scope, "auth_method": "session"}
        return await self.inner(scope, receive, send)
