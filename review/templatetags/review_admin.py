"""Template tags of the review app's admin pages: the open-items count on the index, a Response's replays."""

from __future__ import annotations

from typing import Any

from django import template

from chat.models import Response
from review.admin import is_reviewer
from review.models import Replay
from review.services.queue import review_items_open_count

register = template.Library()


def _reviewer(context: template.Context) -> bool:
    request = context.get("request")
    return request is not None and is_reviewer(request)


@register.simple_tag(takes_context=True)
def review_open_count(context: template.Context) -> int | None:
    """Open review items, for a librarian (None for anyone else: the index shows nothing)."""
    return review_items_open_count() if _reviewer(context) else None


@register.simple_tag(takes_context=True)
def response_replays(context: template.Context, response: Response) -> list[Any] | None:
    """The latest replays of ``response`` for a librarian (None for anyone else: no replay button either).

    Args:
        context: the template context; its ``request`` tells who is looking.
        response: the stored answer whose admin page is shown.

    Returns:
        Up to ten replays, newest first, or None for a user who is not a reviewer.
    """
    if not _reviewer(context):
        return None
    return list(Replay.objects.filter(response=response).order_by("-created_at")[:10])
