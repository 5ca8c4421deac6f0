"""WebSocket for the admin's live progress bars: librarians only, read-only."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from documents.events import PROGRESS_GROUP, DocumentProgressEvent


class DocumentProgressConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels has no type hints
    """Pushes the workers' progress events to a librarian's document list; never accepts input.

    Anyone else is accepted and closed at once with an application code: ``4401`` without a login, ``4403`` for a
    logged-in user who is not a staff librarian. A closed socket makes the page's script poll the progress view
    instead.
    """

    async def connect(self) -> None:
        """Keep only staff librarians; others are accepted and closed at once (4401/4403).

        A librarian joins the progress group before the socket is accepted: no event sent after the handshake is lost.
        """
        user = self.scope.get("user")
        signed_in = user is not None and user.is_authenticated
        is_librarian = signed_in and await _is_librarian(user)
        if is_librarian:
            await self.channel_layer.group_add(PROGRESS_GROUP, self.channel_name)
        await self.accept()
        if not signed_in:
            await self.close(code=4401)
        elif not is_librarian:
            await self.close(code=4403)

    async def disconnect(self, code: int) -> None:
        """Leave the progress group (a no-op for a socket that never joined it).

        Args:
            code: the WebSocket close code.
        """
        await self.channel_layer.group_discard(PROGRESS_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen.

        Args:
            content: the client's message, ignored.
            **kwargs: Channels' extra arguments, ignored.
        """

    async def document_progress(self, event: DocumentProgressEvent) -> None:
        """Forward one ``document.progress`` event from the group to the browser, as it is."""
        await self.send_json(event)


async def _is_librarian(user: Any) -> bool:
    from channels.db import database_sync_to_async  # noqa: PLC0415 - keep module import light

    return bool(await database_sync_to_async(lambda: user.is_librarian and user.is_staff)())
