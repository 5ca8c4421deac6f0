"""ASGI entry point: HTTP through Django, WebSockets through Channels (session or JWT auth, origin checked)."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - Django must be set up before Channels imports models
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - after Django is set up, as above
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402 - after Django is set up

from chat.routing import websocket_urlpatterns as chat_ws  # noqa: E402 - its consumers import models
from chat.services.answering.warmup import answering_warm_up_soon  # noqa: E402 - light; its heavy parts load lazily
from docintel.ws_auth import JWTSubprotocolAuthMiddleware  # noqa: E402 - imports auth models
from documents.routing import websocket_urlpatterns as document_ws  # noqa: E402 - its consumers import models

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(JWTSubprotocolAuthMiddleware(URLRouter([*document_ws, *chat_ws])))
        ),
    }
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The router, which also starts warming the answering path in the background on the server's first connection.

    So the first reader's question does not spend its time budget loading LLM Guard and measuring the model.

    Args:
        scope: the connection's ASGI scope (``http``, ``websocket`` or ``lifespan``).
        receive: the ASGI receive channel.
        send: the ASGI send channel.
    """
    if scope["type"] in ("http", "websocket"):
        answering_warm_up_soon()
    await router(scope, receive, send)
