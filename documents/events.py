"""Events published by ingestion workers to the admin's live progress view (one helper publishes them)."""

from __future__ import annotations

from typing import Literal, TypedDict

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = structlog.get_logger(__name__)

PROGRESS_GROUP = "documents.progress"


class DocumentProgress(TypedDict):
    """One document's ingestion state as the live list needs it: status, stage (code and label), percent, error code.

    Published by the workers at each step; the list page's script repaints the row's badge and progress bar from it.
    """

    id: int
    status: str
    stage: str
    stage_display: str
    progress: int
    error_code: str


class DocumentProgressEvent(TypedDict):
    """The Channels message sent to the progress group; ``type`` routes it to the consumer's ``document_progress``."""

    type: Literal["document.progress"]
    document: DocumentProgress


def publish_progress(progress: DocumentProgress) -> None:
    """Send a progress event to every librarian watching the document list. Never fails the caller."""
    layer = get_channel_layer()
    if layer is None:
        return
    event: DocumentProgressEvent = {"type": "document.progress", "document": progress}
    try:
        async_to_sync(layer.group_send)(PROGRESS_GROUP, event)
    except Exception as exc:  # noqa: BLE001 - progress is best effort; the database row is the truth
        log.warning("progress_publish_failed", document_id=progress["id"], error_type=type(exc).__name__)
