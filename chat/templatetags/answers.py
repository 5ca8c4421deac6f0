"""``{{ x.text|answer_html:x.citations }}``: a stored answer rendered on the server, as the live page shows it.

The filter is the server pages' hook into :func:`chat.events.answer_html` (markdown-it-py, then nh3 against an
allow-list), the same renderer that makes the ``html`` of the WebSocket's final ``answer`` event, so an answer looks
the same whether it was just streamed or read back from history.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from chat.events import answer_html as render_answer

register = template.Library()


@register.filter(name="answer_html")
def answer_html(text: str | None, citations: Any = None) -> SafeString:
    """An answer's markdown as HTML, marked safe for the template only because nh3 cleaned it.

    Args:
        text: the stored answer (markdown written by a model; untrusted).
        citations: the answer's citations (``number``, ``url``); ``[n]`` markers link to their source views.

    Returns:
        The cleaned HTML (no image, no script, live links only into the portal).
    """
    html = render_answer(text or "", list(citations or []))
    return mark_safe(html)  # noqa: S308 - nh3 cleaned it against guards.render's allow-list (no script, no handler)
