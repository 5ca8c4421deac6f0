"""WebSocket routes of the chat app (mounted in :mod:`docintel.asgi`)."""

from django.urls import re_path

from chat.consumers import ChatConsumer

# Any id reaches the consumer, which closes with 4403 for one that is malformed, unknown or foreign.
websocket_urlpatterns = [re_path(r"^ws/chat/(?P<session_id>[^/]+)/?$", ChatConsumer.as_asgi())]
