"""WebSocket routes of the documents app: the admin's live ingestion progress at ``/ws/documents/progress/``."""

from django.urls import path

from documents.consumers import DocumentProgressConsumer

websocket_urlpatterns = [path("ws/documents/progress/", DocumentProgressConsumer.as_asgi())]
