"""A Greek reader in headless Chromium, on the default answer settings, over a real Greek Government Gazette PDF.

Two pages of the shared Gazette (Law 4706/2020, its definitions) are parsed, chunked and embedded by the real
ingestion services; the reader asks in Greek and gets an answer with a citation chip (generated in Greek, or the
Gazette's own sentence quoted: the bundled model answers Greek questions in English), and the chip opens the
source view at that passage with the quoted sentence highlighted.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from django.utils import translation
from playwright.sync_api import sync_playwright

from chat.events import answer_html
from chat.models import Response
from tests.conftest import REPO
from tests.e2e.test_chat_browser import CHROMIUM_ARGS, _console_errors, sign_in_and_open_a_session

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
QUESTION = "Τι είναι η «Επιτροπή ελέγχου»;"


def test_greek_question_over_a_greek_pdf_gets_a_cited_answer_that_opens_the_quote(gazette, live_daphne, reader):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_daphne.http
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="el-GR")
        console_errors = _console_errors(context)
        page = context.new_page()
        try:
            sign_in_and_open_a_session(page, base)
            page.fill("#question", QUESTION)
            page.click("#send")
            chip = page.locator("#exchanges .answer.answered .citations .chip").first
            chip.wait_for(timeout=60_000)
            answer = page.locator("#exchanges .answer.answered .md").first.inner_text()
            answer_dom = page.locator("#exchanges .answer.answered .md").first.inner_html()
            refs = page.locator("#exchanges .answer.answered .md a.ref")
            ref_hrefs = [refs.nth(i).get_attribute("href") or "" for i in range(refs.count())]
            assert page.locator("#exchanges .answer.answered .md img").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "chat-greek-gazette.png"), full_page=True)
            href = chip.get_attribute("href") or ""
            assert href.startswith(f"/documents/{gazette.pk}/source/?chunk=")
            with context.expect_page() as opened:
                chip.click()
            source = opened.value
            source.wait_for_load_state()
            quote = source.locator("mark#cited strong#quote")
            quote.wait_for()
            assert quote.is_visible()
            quoted = quote.inner_text().strip()
            # The highlighted sentence is about the question's subject: it names the committee («Επιτροπή») or its
            # control («ελέγχου»), folded as search folds (accents, case). Which sentence depends on whether the model
            # generated (its first sentence's support) or the budget quoted (the best-matching sentence).
            folded = "".join(c for c in unicodedata.normalize("NFD", quoted.lower()) if not unicodedata.combining(c))
            assert "επιτροπ" in folded or "ελεγχ" in folded, quoted
            source.screenshot(path=str(SCREENSHOTS / "source-view-greek-quote.png"), full_page=True)
        finally:
            context.close()
            browser.close()
    response = Response.objects.get(query__text=QUESTION)
    assert response.status in (Response.Status.COMPLETED, Response.Status.EXTRACTIVE), response.decision
    if response.status == Response.Status.EXTRACTIVE:
        assert answer.startswith("Αυτούσιο απόσπασμα από τις πηγές") and quoted in response.text
    else:  # generated: it must be Greek (a Greek question answered in English is replaced by the quote)
        assert sum("\u0370" <= c <= "\u03ff" for c in answer) > sum(c.isascii() and c.isalpha() for c in answer)
    assert response.citations[0]["document_id"] == gazette.pk and response.citations[0]["page"] in (1, 2)
    # The page shows the final event's html as it is: the server's one renderer, in the reader's language.
    with translation.override("el"):
        assert answer_dom == answer_html(response.text, response.citations)
    assert all(href.startswith(f"/documents/{gazette.pk}/source/?chunk=") for href in ref_hrefs), ref_hrefs
    known = {c["number"] for c in response.citations}
    markers = [int(m) for m in re.findall(r"\[(\d{1,3})\]", response.text) if int(m) in known]
    assert markers and len(ref_hrefs) == len(markers), (response.text, ref_hrefs)
    assert console_errors == [], console_errors
