"""WebSocket for the admin's live progress bars: librarians only, read-only."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from documents.events import PROGRESS_GROUP, DocumentProgressEvent


class DocumentProgressConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels has no type hints
    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        is_librarian = await _is_librarian(user)
        if not is_librarian:
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(PROGRESS_GROUP, self.channel_name)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(PROGRESS_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen."""

    async def document_progress(self, event: DocumentProgressEvent) -> None:
        await self.send_json(event)


async def _is_librarian(user: Any) -> bool:
    from channels.db import database_sync_to_async  # noqa: PLC0415 - keep module import light

    return bool(await database_sync_to_async(lambda: user.is_librarian and user.is_staff)())
