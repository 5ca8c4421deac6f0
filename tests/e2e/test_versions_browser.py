"""Document versions as librarians and readers see them, in headless Chromium.

Document versions as people see them, in headless Chromium on a real Daphne: the librarian's versions table with
dates and "Restore", the "Upload new version" page (in Greek), and the reader's history note on an answer that cited
a superseded version (English and Greek). Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import sync_playwright

from chat.models import ChatSession, Query, Response
from documents.models import Document
from tests.conftest import REPO
from tests.e2e.test_chat_browser import CHROMIUM_ARGS, _console_errors
from tests.factories import make_chunk, make_document

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture
def family(finance):
    v1 = make_document(title="Kestrel dam facts", groups=[finance], is_current=False, superseded_at=timezone.now())
    make_chunk(v1, 0, "The Kestrel dam is 71 metres high.")
    v2 = make_document(title="Kestrel dam facts", groups=[finance], version_of=v1, version=2)
    make_chunk(v2, 0, "The Kestrel dam is 84 metres high.")
    return v1, v2


def _sign_in(page, base: str, email: str, password: str, path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={path}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")


@pytest.mark.parametrize("locale", ["en-US", "el-GR"])
def test_versions_table_upload_page_and_history_note_in_the_browser(live_daphne, librarian, reader, family, locale):
    v1, v2 = family
    session = ChatSession.objects.create(user=reader)
    query = Query.objects.create(user=reader, session=session, text="How high is the Kestrel dam?")
    citation = {
        "number": 1, "chunk_id": v1.chunks.get().pk, "document_id": v1.pk, "document_title": v1.title, "page": None,
        "page_end": None, "heading": "", "location": "", "quote": "The Kestrel dam is 71 metres high.", "score": 1.0,
        "url": f"/documents/{v1.pk}/source/",
    }  # fmt: skip
    Response.objects.create(query=query, text="It is 71 metres high [1].", status="completed", citations=[citation])
    greek = locale.startswith("el")
    base = live_daphne.http
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale=locale)
        errors = _console_errors(context)
        page = context.new_page()
        try:
            change = f"/admin/documents/document/{v2.pk}/change/"
            _sign_in(page, base, "librarian@example.com", "pw-librarian-1", change)
            table = page.locator("table.di-versions")
            table.scroll_into_view_if_needed()
            rows = table.locator("tbody tr")
            assert rows.count() == 2
            assert rows.nth(0).get_attribute("data-version-id") == str(v1.pk)
            assert ("αντικαταστάθηκε" if greek else "superseded") in rows.nth(0).inner_text()
            assert ("τρέχουσα" if greek else "current") in rows.nth(1).inner_text()
            assert rows.nth(0).locator("a.di-restore-version").count() == 1  # the old one can be restored
            assert rows.nth(1).locator("a.di-restore-version").count() == 0
            page.screenshot(path=str(SCREENSHOTS / f"versions-admin-{locale}.png"), full_page=True)

            page.click("a.di-new-version")
            page.wait_for_url(f"{base}/admin/documents/document/{v2.pk}/new-version/")
            assert page.locator("#new-version-form input[type=file]").count() == 1
            heading = "Ανέβασμα νέας έκδοσης του «" if greek else "Upload a new version of “"
            assert heading + "Kestrel dam facts" in page.inner_text("#content")
            page.screenshot(path=str(SCREENSHOTS / f"versions-upload-{locale}.png"), full_page=True)

            page.goto(f"{base}/admin/documents/document/{v1.pk}/restore-version/")
            assert page.locator("#restore-version-form").count() == 1
            context.clear_cookies()

            _sign_in(page, base, "reader@example.com", "pw-reader-1", f"/chat/{session.pk}/")
            note = page.locator(f'[data-superseded-document="{v1.pk}"]')
            note.wait_for()
            expected = "έχει αντικατασταθεί από τότε" if greek else "which has been superseded since"
            assert expected in note.inner_text()
            assert note.locator("a").get_attribute("href") == f"/documents/{v2.pk}/source/"
            page.screenshot(path=str(SCREENSHOTS / f"versions-history-{locale}.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert Document.objects.count() == 2
