"""Document versions on a real Celery worker, the real vector store, e5 and the bundled LLM (issue 15 part 2).

Upload v1, ask, upload v2 with changed text, ask again: the answer cites v2 and quotes its new text, the store holds
exactly v2's points, the first answer's history says it cited a superseded version; restore v1 works. A worker
killed while v2 ingests leaves v1 current and searchable, and v2 completes after the restart.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from typing import Any

import pytest

from chat.models import ChatSession
from chat.services.answering import answer_sync
from chat.services.retrieval import passages_retrieve
from chat.services.sessions import session_history
from docintel.context import ActorContext
from documents.models import Document
from documents.services import vectorstore
from documents.services.lifecycle import document_upload, document_version_restore, document_version_upload
from tests.integration.conftest import wait_terminal, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TEXTS = {
    "en": {
        "v1": "Kestrel reservoir.\n\nThe Kestrel reservoir dam is 71 metres high. It was designed by M. Lindqvist.\n",
        "v2": "Kestrel reservoir.\n\nThe Kestrel reservoir dam is 84 metres high. It was raised by the water board.\n",
        "question": "How high is the Kestrel reservoir dam?",
    },
    "el": {
        "v1": "Ταμιευτήρας Κέστρελ.\n\nΤο φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 71 μέτρα. Το σχεδίασε η Μαρία.\n",
        "v2": "Ταμιευτήρας Κέστρελ.\n\nΤο φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 84 μέτρα. Το ύψωσε η εταιρεία.\n",
        "question": "Τι ύψος έχει το φράγμα του ταμιευτήρα Κέστρελ;",
    },
}


def _upload(text: str, name: str, user, groups=()) -> Document:
    data = text.encode()
    return document_upload(
        fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(user), access_groups=groups
    )


def _new_version(document: Document, data: bytes, name: str, user) -> Document:
    return document_version_upload(
        document=document, fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(user)
    )


def _point_ids(document_id: int) -> set[str]:
    records, _ = vectorstore.qdrant_client().scroll(
        vectorstore.collection_name(), scroll_filter=vectorstore.document_filter(document_id), limit=10_000
    )
    return {str(r.id) for r in records}


def _searchable_point_ids(document_id: int) -> set[str]:
    """The document's points that a search may return (not staged, not quarantined)."""
    from qdrant_client import models

    flt = models.Filter(
        must=vectorstore.document_filter(document_id).must, must_not=vectorstore.retrievable_conditions()
    )
    records, _ = vectorstore.qdrant_client().scroll(vectorstore.collection_name(), scroll_filter=flt, limit=10_000)
    return {str(r.id) for r in records}


def _wait_points_gone(document_id: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while _point_ids(document_id):
        assert time.monotonic() < deadline, f"the points of superseded version {document_id} were never deleted"
        time.sleep(0.3)


def _wait_current(document_id: int, timeout: float = 300.0) -> Document:
    deadline = time.monotonic() + timeout
    while True:
        doc = Document.objects.get(pk=document_id)
        if doc.is_current and doc.status == "completed":
            return doc
        assert doc.status != "failed", (doc.error_code, doc.error_message)
        assert time.monotonic() < deadline, f"version {document_id} never became current: {doc.status} {doc.stage}"
        time.sleep(0.5)


def _assert_exactly_indexed(current: Document, *others: Document) -> None:
    """The family's points in the store are exactly the current version's, one per chunk."""
    expected = {str(v) for v in current.chunks.values_list("vector_id", flat=True)}
    assert expected and _point_ids(current.pk) == expected
    for other in others:
        assert _point_ids(other.pk) == set(), other.pk


def _ask(reader, question: str, session: ChatSession) -> Any:
    result = answer_sync(user=reader, text=question, session=session)
    assert result.status in ("completed", "extractive"), (result.status, result.text)
    assert result.citations, result
    return result


@pytest.fixture
def answering(ingest_settings, llm_url):
    ingest_settings.LLM_BASE_URL = llm_url
    ingest_settings.LLM_MAX_TOKENS = 40
    ingest_settings.LLM_TEMPERATURE = 0.0
    ingest_settings.DOCINTEL_NEMO_RAILS = []
    from guards import guards_warm_up

    guards_warm_up()
    return ingest_settings


@pytest.mark.parametrize("lang", ["en", "el"])
@pytest.mark.usefixtures("ingestion_worker")
def test_a_new_version_replaces_the_old_in_answers_and_index_and_the_old_is_restored(
    lang, transactional_db, answering, librarian, reader, finance, client
):
    texts = TEXTS[lang]
    v1 = _upload(texts["v1"], f"kestrel-{lang}.txt", librarian, [finance])
    v1 = wait_terminal([v1.pk])[v1.pk]
    assert v1.status == "completed", v1.error_message
    before = ChatSession.objects.create(user=reader)
    first = _ask(reader, texts["question"], before)
    assert {c["document_id"] for c in first.citations} == {v1.pk}
    assert any("71" in c["quote"] for c in first.citations), first.citations

    v2 = _new_version(v1, texts["v2"].encode(), f"kestrel-{lang}-2026.txt", librarian)
    v2 = _wait_current(v2.pk)
    v1.refresh_from_db()
    assert v1.version_state == "superseded" and v1.superseded_at and v2.version == 2
    _wait_points_gone(v1.pk)
    _assert_exactly_indexed(v2, v1)
    after = ChatSession.objects.create(user=reader)
    second = _ask(reader, texts["question"], after)
    assert {c["document_id"] for c in second.citations} == {v2.pk}  # the answer cites v2 ...
    assert any("84" in c["quote"] for c in second.citations), second.citations  # ... and quotes its new text
    assert all("71" not in c["quote"] for c in second.citations)

    [old_exchange] = session_history(session=before)
    assert [s["document_id"] for s in old_exchange["superseded"]] == [v1.pk]
    assert old_exchange["superseded"][0]["current_document_id"] == v2.pk
    assert session_history(session=after)[0]["superseded"] == []
    client.force_login(reader)
    page = client.get(f"/chat/{before.pk}/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert f'data-superseded-document="{v1.pk}"' in page and f"/documents/{v2.pk}/source/" in page

    document_version_restore(
        document=v1, ctx=ActorContext.for_user(librarian)
    )  # restore v1: re-indexed, then switched back
    v1 = _wait_current(v1.pk)
    _wait_points_gone(v2.pk)
    _assert_exactly_indexed(v1, v2)
    third = _ask(reader, texts["question"], ChatSession.objects.create(user=reader))
    assert {c["document_id"] for c in third.citations} == {v1.pk}
    assert any("71" in c["quote"] for c in third.citations), third.citations
    assert session_history(session=before)[0]["superseded"] == []  # v1 is current again
    assert [s["document_id"] for s in session_history(session=after)[0]["superseded"]] == [v2.pk]


VISIBILITY = 20  # above the hard time limit below, as in the crash test of ingestion


def test_a_worker_killed_while_v2_ingests_leaves_v1_current_and_searchable(
    transactional_db, corpus, librarian, reader, finance, settings, ingest_media, qdrant_url, embedding_url, server_logs
):
    from devstack import localservers
    from docintel.celery import app

    queue = f"version-crash-{uuid.uuid4().hex[:8]}"
    env = worker_env(
        queue=queue,
        media=ingest_media,
        qdrant_url=qdrant_url,
        embedding_url=embedding_url,
        CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY),
        CELERY_TASK_SOFT_TIME_LIMIT="12",
        CELERY_TASK_TIME_LIMIT="15",
        CELERY_UNACKED_RESTORE_INTERVAL="2",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
    )
    settings.MEDIA_ROOT = ingest_media
    settings.QDRANT_URL = qdrant_url
    settings.EMBEDDING_BASE_URL = embedding_url
    before = app.conf.task_default_queue
    app.conf.task_default_queue = queue

    def found(lang: str = "en") -> set[int]:
        result = asyncio.run(passages_retrieve(user=reader, text=TEXTS[lang]["question"], top_k=10))
        return {p.document_id for p in result.passages}

    worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="version-crash-worker")
    try:
        worker.start(timeout=120)
        bilingual = TEXTS["en"]["v1"] + "\n" + TEXTS["el"]["v1"]  # searched in English and in Greek
        v1 = _upload(bilingual, "kestrel-crash.txt", librarian, [finance])
        v1 = wait_terminal([v1.pk])[v1.pk]
        assert v1.status == "completed", v1.error_message
        assert v1.pk in found("en") and v1.pk in found("el")

        data = (corpus / "pdf/multi_page.pdf").read_bytes()  # several pages: long enough to be caught in the act
        v2 = _new_version(v1, data, "kestrel-crash-v2.pdf", librarian)
        deadline = time.monotonic() + 300
        # killed in the last step (claimed by the embedding task: progress 60 and up), the closest to the switch
        while (row := Document.objects.get(pk=v2.pk)).stage not in ("embedding", "indexing") or row.progress < 60:
            assert row.status != "completed", "v2 completed before it was caught"
            assert time.monotonic() < deadline, "the worker never got to embedding v2"
            time.sleep(0.05)
        worker.kill()
        killed = Document.objects.get(pk=v2.pk)
        assert (killed.status, killed.is_current) == ("processing", False), (killed.status, killed.stage)
        assert Document.objects.get(pk=v1.pk).is_current
        for lang in ("en", "el"):
            hits = found(lang)
            assert v1.pk in hits and v2.pk not in hits, lang  # v1 is still the one searched and cited
        assert _point_ids(v1.pk) == {str(v) for v in v1.chunks.values_list("vector_id", flat=True)}
        assert _searchable_point_ids(v2.pk) == set()  # whatever v2 had written is staged, out of every search

        worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="version-crash-worker")
        worker.start(timeout=120)
        v2 = _wait_current(v2.pk, timeout=400)
        _wait_points_gone(v1.pk)
    finally:
        worker.stop()
        app.conf.task_default_queue = before
    v1.refresh_from_db()
    assert v1.version_state == "superseded"
    _assert_exactly_indexed(v2, v1)
    assert _searchable_point_ids(v2.pk) == _point_ids(v2.pk)  # none left staged
    assert v1.pk not in found("en") and v1.pk not in found("el")
