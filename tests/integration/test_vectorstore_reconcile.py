"""A worker that starts cleans up the orphan points a crash left behind (real worker, store, e5; English and Greek).

The documents are ingested by a real worker. Then, with the worker stopped, the states a crash leaves are made
directly in the database and the store:

- a version switch whose ``delete_version_points`` was never enqueued: v2 is current, v1 superseded, and v1's points
  (as they were while v1 was current: not staged) are all still in the store;
- a deletion request whose cascade never ran (``deleted_at`` set, points present), and a row gone with its points
  left;
- a document being re-ingested (processing, its chunks replaced, its points not yet) and a version not yet current
  (staged points): these must keep their points.

A new worker starts: its start-up reconciliation deletes exactly the orphans, and searches in English and Greek
find v2 and never v1.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chat.services.retrieval import passages_retrieve
from docintel.context import ActorContext
from documents.models import Chunk, Document
from documents.services import vectorstore
from documents.services.chunking import embedding_text
from documents.services.embeddings import embed_passages
from documents.services.ingest import chunk_points
from documents.services.lifecycle import document_upload, document_version_upload
from tests.integration.conftest import wait_terminal, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TEXTS = {
    "en": {
        "v1": "Kestrel reservoir.\n\nThe Kestrel reservoir dam is 71 metres high. It was designed by M. Lindqvist.\n",
        "v2": "Kestrel reservoir.\n\nThe Kestrel reservoir dam is 84 metres high. It was raised by the water board.\n",
        "other": "Heron lighthouse.\n\nThe Heron lighthouse was built in 1887 and is 32 metres tall.\n",
        "question": "How high is the Kestrel reservoir dam?",
    },
    "el": {
        "v1": "Ταμιευτήρας Κέστρελ.\n\nΤο φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 71 μέτρα. Το σχεδίασε η Μαρία.\n",
        "v2": "Ταμιευτήρας Κέστρελ.\n\nΤο φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 84 μέτρα. Το ύψωσε η εταιρεία.\n",
        "other": "Φάρος Ερωδιού.\n\nΟ φάρος του Ερωδιού χτίστηκε το 1887 και έχει ύψος 32 μέτρα.\n",
        "question": "Τι ύψος έχει το φράγμα του ταμιευτήρα Κέστρελ;",
    },
}


def _upload(text: str, name: str, user, groups=()) -> Document:
    data = text.encode()
    return document_upload(
        fileobj=io.BytesIO(data), filename=name, size=len(data), ctx=ActorContext.for_user(user), access_groups=groups
    )


def _point_ids(document_id: int) -> set[str]:
    records, _ = vectorstore.qdrant_client().scroll(
        vectorstore.collection_name(), scroll_filter=vectorstore.document_filter(document_id), limit=10_000
    )
    return {str(r.id) for r in records}


def _vector_ids(document: Document) -> set[str]:
    return {str(v) for v in document.chunks.values_list("vector_id", flat=True)}


def _rewrite_points(document: Document, *, staged: bool) -> set[str]:
    """Write the document's points again from its chunks, as its ingestion did (``staged`` as given)."""
    chunks = list(Chunk.objects.filter(document=document).order_by("ordinal"))
    groups = sorted(document.access_groups.values_list("id", flat=True))
    vectors = embed_passages([embedding_text(c.heading_path, c.text) for c in chunks])
    points = chunk_points(document=document, chunks=chunks, vectors=vectors, access_group_ids=groups)
    vectorstore.points_replace(document_id=document.pk, points=points)
    vectorstore.points_set_staged(document_id=document.pk, staged=staged)
    return {p.id for p in points}


def test_a_starting_worker_deletes_the_orphans_a_crash_left_and_keeps_the_rest(
    transactional_db, librarian, reader, finance, settings, ingest_media, qdrant_url, embedding_url, server_logs
):
    from devstack import localservers
    from docintel.celery import app

    queue = f"reconcile-{uuid.uuid4().hex[:8]}"
    env = worker_env(queue=queue, media=ingest_media, qdrant_url=qdrant_url, embedding_url=embedding_url)
    settings.MEDIA_ROOT = ingest_media
    settings.QDRANT_URL = qdrant_url
    settings.EMBEDDING_BASE_URL = embedding_url
    before = app.conf.task_default_queue
    app.conf.task_default_queue = queue

    def found(lang: str) -> set[int]:
        result = asyncio.run(passages_retrieve(user=reader, text=TEXTS[lang]["question"], top_k=10))
        return {p.document_id for p in result.passages}

    worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="reconcile-worker")
    try:
        worker.start(timeout=120)
        v1 = _upload(TEXTS["en"]["v1"] + "\n" + TEXTS["el"]["v1"], "kestrel-reconcile.txt", librarian, [finance])
        docs = {
            (lang, kind): _upload(TEXTS[lang]["other"] + f"\n{kind} {lang}.\n", f"{kind}-{lang}.txt", librarian)
            for lang in ("en", "el")
            for kind in ("deleting", "gone", "ingesting", "family")
        }
        done = wait_terminal([v1.pk, *(d.pk for d in docs.values())])
        assert all(d.status == "completed" for d in done.values()), [(d.pk, d.error_message) for d in done.values()]
        data = (TEXTS["en"]["v2"] + "\n" + TEXTS["el"]["v2"]).encode()
        v2 = document_version_upload(
            document=v1,
            fileobj=io.BytesIO(data),
            filename="kestrel-reconcile-2.txt",
            size=len(data),
            ctx=ActorContext.for_user(librarian),
        )
        pending = {}
        for lang in ("en", "el"):  # a second version of each "family" document, that will stay pending
            base = docs[(lang, "family")]
            text = (TEXTS[lang]["other"] + f"\nA newer edition, {lang}.\n").encode()
            pending[lang] = document_version_upload(
                document=base,
                fileobj=io.BytesIO(text),
                filename=f"family-{lang}-2.txt",
                size=len(text),
                ctx=ActorContext.for_user(librarian),
            )
        deadline = time.monotonic() + 300
        while True:  # the switch and its delete task have run: v1 superseded without points
            rows = {d.pk: d for d in Document.objects.filter(pk__in=[v2.pk, *(p.pk for p in pending.values())])}
            superseded = [v1.pk, *(docs[(lang, "family")].pk for lang in ("en", "el"))]
            if all(r.is_current and r.status == "completed" for r in rows.values()) and not any(
                _point_ids(pk) for pk in superseded
            ):
                break
            assert time.monotonic() < deadline, [(r.pk, r.status, r.is_current) for r in rows.values()]
            time.sleep(0.5)
    finally:
        worker.stop()
    try:
        v1.refresh_from_db()
        v2.refresh_from_db()
        assert v1.version_state == "superseded" and v2.is_current

        # The state of a worker killed right after the switch's commit, before delete_version_points was enqueued.
        orphans: dict[int, set[str]] = {v1.pk: _rewrite_points(v1, staged=False)}
        assert orphans[v1.pk] == _vector_ids(v1) == _point_ids(v1.pk) != set()
        for lang in ("en", "el"):
            deleting = docs[(lang, "deleting")]
            orphans[deleting.pk] = _point_ids(deleting.pk)
            Document.objects.filter(pk=deleting.pk).update(deleted_at=timezone.now(), stage="deleting")

            gone = docs[(lang, "gone")]
            orphans[gone.pk] = _point_ids(gone.pk)
            Chunk.objects.filter(document=gone).delete()
            Document.objects.filter(pk=gone.pk).delete()

            ingesting = docs[(lang, "ingesting")]  # a re-ingest between its chunking and its embedding
            Document.objects.filter(pk=ingesting.pk).update(status="processing", stage="embedding", progress=55)
            Chunk.objects.filter(document=ingesting).delete()

            # the family's old edition current again, its newer edition back to pending with staged points
            base, newer = docs[(lang, "family")], pending[lang]
            Document.objects.filter(pk=newer.pk).update(is_current=False)
            Document.objects.filter(pk=base.pk).update(is_current=True, superseded_at=None)
            _rewrite_points(base, staged=False)
            vectorstore.points_set_staged(document_id=newer.pk, staged=True)
        assert all(orphans.values())
        kept = {
            d.pk: _point_ids(d.pk)
            for d in [
                v2,
                *(docs[(lang, k)] for lang in ("en", "el") for k in ("ingesting", "family")),
                *pending.values(),
            ]
        }
        assert all(kept.values()), kept
        for lang in ("en", "el"):  # v1's orphan points are not staged, yet hydration keeps them out
            assert v2.pk in found(lang) and v1.pk not in found(lang), lang

        out = StringIO()
        call_command("vectorstore_reconcile", "--dry-run", stdout=out)  # the dry run deletes nothing
        assert "none deleted" in out.getvalue() and "of superseded versions" in out.getvalue()
        assert {pk: _point_ids(pk) for pk in orphans} == orphans

        worker = localservers.celery_worker(env=env, log_dir=server_logs, queues=queue, name="reconcile-worker")
        worker.start(timeout=120)
        deadline = time.monotonic() + 120
        while any(_point_ids(pk) for pk in orphans):  # the start-up reconciliation, nothing else enqueued
            assert time.monotonic() < deadline, {pk: len(_point_ids(pk)) for pk in orphans}
            time.sleep(0.5)
    finally:
        worker.stop()
        app.conf.task_default_queue = before
    assert {pk: _point_ids(pk) for pk in kept} == kept  # current, being ingested and staged: every point kept
    assert _point_ids(v2.pk) == _vector_ids(v2)
    for lang in ("en", "el"):
        assert v2.pk in found(lang) and v1.pk not in found(lang), lang
