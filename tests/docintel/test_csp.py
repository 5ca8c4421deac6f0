"""Content-Security-Policy (issue 13, row 7): every page sends it, and no page needs inline script or handlers."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _assert_strict(response) -> None:
    policy = _policy(response)  # before: KeyError, no header at all
    assert policy["script-src"][0] == "'self'" and "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["style-src"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["connect-src"] == ["'self'"]
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html)


def test_reader_pages_send_a_strict_policy_and_carry_no_inline_script(client, reader, finance):
    _assert_strict(client.get("/accounts/login/"))
    client.force_login(reader)
    _assert_strict(client.get("/chat/"))
    session = client.post("/chat/new/")
    _assert_strict(client.get(session["Location"]))
    doc = make_document(title="Report", groups=[finance], mime_type="text/markdown")
    chunk = make_chunk(doc, 0, text="text")
    _assert_strict(client.get(reverse("chat:document_source", args=[doc.pk]), {"chunk": chunk.pk}))


def test_admin_pages_send_the_policy(client, superuser):
    _assert_strict(client.get("/admin/login/"))
    client.force_login(superuser)
    for url in ("/admin/", "/admin/documents/document/", "/admin/documents/document/upload/", "/admin/docintel/user/"):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_strict(response)


def test_swagger_ui_loads_its_init_script_and_marks_its_style_with_the_nonce(client):
    page = client.get("/api/v1/docs/")
    html = page.content.decode()
    assert not INLINE_SCRIPT.search(html)
    nonce = re.search(r'<style nonce="([^"]+)">', html)
    assert nonce and f"'nonce-{nonce.group(1)}'" in _policy(page)["style-src"]
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_the_favicon_the_browser_asks_for_exists(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200 and response.redirect_chain
