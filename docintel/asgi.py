"""ASGI entry point: HTTP through Django, WebSockets through Channels (session or JWT auth, origin checked)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - Django must be set up before Channels imports models
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns as chat_ws  # noqa: E402
from docintel.ws_auth import JWTSubprotocolAuthMiddleware  # noqa: E402
from documents.routing import websocket_urlpatterns as document_ws  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(JWTSubprotocolAuthMiddleware(URLRouter([*document_ws, *chat_ws])))
        ),
    }
)
