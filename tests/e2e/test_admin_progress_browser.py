"""A librarian watches an upload's progress bar reach "Completed" in headless Chromium.

A librarian in headless Chromium: upload a PDF in the admin, then watch its progress bar move to "Completed" on the
list page without reloading, fed by the workers' WebSocket events (a real Celery worker on Redis, a real Daphne).

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from devstack import localservers
from documents.models import Document
from tests.conftest import REPO
from tests.e2e.test_chat_browser import CHROMIUM_ARGS, _console_errors
from tests.integration.conftest import wait_terminal, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

# Records every state the list page shows for the uploaded document, and every progress frame the socket receives.
WATCH = """() => {
  window.__diLoadedOnce = true;
  window.__diSeen = [];
  const el = document.querySelector('.di-progress');
  const record = () => window.__diSeen.push([el.dataset.status, el.querySelector('progress').value,
                                             el.querySelector('.di-stage').textContent.trim()]);
  record();
  new MutationObserver(record).observe(el, {attributes: true, childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def ingest_portal(django_db_setup, django_db_blocker, embedding_url, qdrant_url, server_logs, tmp_path_factory):
    """A Celery worker and a Daphne sharing one media folder, queue and collection, on the pytest database."""
    from django.db import connection

    media = tmp_path_factory.mktemp("admin-e2e-media")
    queue = f"admin-e2e-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        queue=queue,
        media=media,
        qdrant_url=qdrant_url,
        embedding_url=embedding_url,
        QDRANT_COLLECTION_PREFIX=f"adm{uuid.uuid4().hex[:8]}",
    )
    assert connection.settings_dict["NAME"] in env["DATABASE_URL"]
    worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="admin-e2e-worker")
    worker.start(timeout=120)
    port = localservers.free_port()
    daphne = localservers.daphne_server(port=port, env={**env, "TESTING": "true"}, log_dir=server_logs)
    daphne.start(timeout=60)
    yield f"http://127.0.0.1:{port}"
    daphne.stop()
    worker.stop()


def test_librarian_uploads_and_watches_the_progress_bar_reach_completed(ingest_portal, librarian, finance, corpus):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = ingest_portal
    pdf = corpus / "pdf" / "redp5110_sampled.pdf"  # 18 pages: long enough to watch
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
        console_errors = _console_errors(context)
        page = context.new_page()
        frames: list[tuple[float, str]] = []  # (seconds since the socket opened, payload)

        def on_socket(ws: Any) -> None:
            if ws.url.endswith("/ws/documents/progress/"):
                opened = time.monotonic()
                ws.on("framereceived", lambda payload: frames.append((time.monotonic() - opened, str(payload))))

        page.on("websocket", on_socket)
        try:
            login = page.goto(f"{base}/admin/login/")
            assert login is not None and "script-src 'self'" in login.headers["content-security-policy"]
            page.fill("#id_username", "librarian@example.com")
            page.fill("#id_password", "pw-librarian-1")
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/admin/")

            page.goto(f"{base}/admin/documents/document/upload/")
            page.set_input_files("input[name=files]", str(pdf))
            page.check(f"input[name=access_groups][value='{finance.pk}']")
            page.click("input[name=_upload]")
            page.wait_for_url(f"{base}/admin/documents/document/*")
            page.wait_for_selector(".di-progress")
            page.evaluate(WATCH)
            page.screenshot(path=str(SCREENSHOTS / "admin-progress-running.png"), full_page=True)

            page.wait_for_function(
                "() => document.querySelector('.di-progress').dataset.status === 'completed'", timeout=300_000
            )
            page.wait_for_function("() => document.querySelector('[data-document-status]').textContent === 'Completed'")
            # pages, chunks and language fill in place once ingestion ends (they showed "-" and 0 until a reload)
            row = "document.querySelector('.di-progress').closest('tr')"
            page.wait_for_function(
                f"() => {row}.querySelector('td.field-chunk_count').textContent.trim() !== '0'", timeout=30_000
            )
            cells = page.evaluate(
                f"() => ['page_count', 'chunk_count', 'language'].map(n => {row}.querySelector('td.field-' + n)"
                ".textContent.trim())"
            )
            seen = page.evaluate("window.__diSeen")
            same_page = page.evaluate("window.__diLoadedOnce === true")
            page.screenshot(path=str(SCREENSHOTS / "admin-progress-completed.png"), full_page=True)
        finally:
            browser.close()

    # The admin pages keep to the Content-Security-Policy: no inline script or style was refused.
    assert console_errors == [], console_errors
    doc = Document.objects.get()
    assert doc.original_filename == pdf.name and [g.name for g in doc.access_groups.all()] == [finance.name]
    assert wait_terminal([doc.pk])[doc.pk].status == "completed" and doc.chunks.exists()
    assert same_page, "the list page reloaded; progress must arrive in place"
    assert cells == [str(doc.page_count), str(doc.chunks.count()), doc.language], cells
    statuses = [s[0] for s in seen]
    values = [float(s[1]) for s in seen]
    assert statuses[-1] == "completed" and values[-1] == 100.0, seen
    # the bar moved through intermediate states, in order, never backwards
    assert any(0 < v < 100 for v in values) or "processing" in statuses, seen
    assert values == sorted(values), seen
    assert len({s[2] for s in seen}) >= 3, seen  # several stages were shown (e.g. parsing, embedding, completed)
    # and it came over the WebSocket, not the 3-second polling fallback
    events = [(at, json.loads(f)) for at, f in frames]
    mine = [at for at, e in events if e.get("type") == "document.progress" and e["document"]["id"] == doc.pk]
    assert mine, frames[:3]
    # the socket outlived redis-py 8's 5 s default read timeout (it used to die there, leaving only the polling)
    assert max(mine) > 6.0, mine
