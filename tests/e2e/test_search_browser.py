"""A Greek reader searches a real Greek Government Gazette PDF in headless Chromium, with and without accents.

The two Gazette pages of the chat test (Law 4706/2020, its definitions) are ingested by the real services; the
reader opens the search page from the chat header, searches «Επιτροπή ελέγχου» as written and bare
(«επιτροπη ελεγχου»), gets the same passage with the same words marked as the Gazette writes them, and opens it in
the source view at that passage, the phrase highlighted.
"""

from __future__ import annotations

import unicodedata

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import REPO
from tests.e2e.test_chat_browser import CHROMIUM_ARGS, _console_errors

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
PHRASE = "επιτροπη ελεγχου"


def folded(text: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return " ".join(bare.casefold().replace("ς", "σ").split())


def search(page, query: str) -> dict[int, list[str]]:
    """Submit ``query``; the hits in rank order, each with the texts of its marks."""
    page.fill("input[name=q]", query)
    page.click("#search-submit")
    page.wait_for_selector("#search-results")
    hits: dict[int, list[str]] = {}
    for item in page.locator("#search-results .search-hit").all():
        chunk = int(item.get_attribute("data-chunk-id") or 0)
        hits[chunk] = [m.inner_text() for m in item.locator(".hit-snippet mark").all()]
    return hits


def test_greek_phrase_with_and_without_accents_marks_the_same_passage_and_opens_it(gazette, live_daphne, reader):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_daphne.http
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="el-GR")
        console_errors = _console_errors(context)
        page = context.new_page()
        try:
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", "reader@example.com")
            page.fill("#id_password", "pw-reader-1")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/chat/")
            page.click("#nav-search")  # the chat header links to the search page
            page.wait_for_url(f"{base}/search/")
            assert page.locator("h1").inner_text() == "Αναζήτηση στα έγγραφα"  # Greek UI

            accented = search(page, "Επιτροπή ελέγχου")
            page.screenshot(path=str(SCREENSHOTS / "search-greek-accented.png"), full_page=True)
            assert "αποσπάσματα" in page.locator("#search-summary").inner_text()
            bare = search(page, "επιτροπη ελεγχου")
            page.screenshot(path=str(SCREENSHOTS / "search-greek-bare.png"), full_page=True)

            def phrase_hits(hits: dict[int, list[str]]) -> list[int]:
                return [chunk for chunk, marks in hits.items() if PHRASE in (folded(m) for m in marks)]

            # the passages carrying the phrase are the same, with the same words marked as the Gazette writes
            # them; the dense leg may swap two overlapping passages between the accented and the bare query
            assert phrase_hits(accented), accented
            assert set(phrase_hits(accented)) == set(phrase_hits(bare))
            first = phrase_hits(accented)[0]
            assert first in list(bare)[:3] and first in list(accented)[:3]
            assert all(accented[c] == bare[c] for c in phrase_hits(accented))
            assert any(m != folded(m) for m in accented[first])  # shown with the document's accents and capitals

            page.locator(f'.search-hit[data-chunk-id="{first}"] .hit-open').click()
            page.wait_for_url(f"{base}/documents/{gazette.pk}/source/?chunk={first}*")
            cited = page.locator("mark#cited")
            cited.wait_for()
            assert cited.get_attribute("data-chunk-id") == str(first)
            quote = page.locator("mark#cited strong#quote")
            assert quote.is_visible() and folded(quote.inner_text()) == PHRASE
            page.screenshot(path=str(SCREENSHOTS / "search-greek-source-view.png"), full_page=True)
        finally:
            context.close()
            browser.close()
    assert console_errors == [], console_errors  # CSP: no inline script or style on either page
