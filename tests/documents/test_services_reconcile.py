"""The vector store's reconciliation (``documents.services.reconcile``) on the real store, English and Greek.

Every kind of document is set up in the database with the points ingestion writes (``chunk_points``), in a fresh
collection: the orphans go, current and in-flight documents keep every point, a dry run deletes nothing, a second run
finds nothing, and a point rewritten between the scan and the delete survives.
"""

from __future__ import annotations

import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from documents.models import Chunk, Document
from documents.services import reconcile, vectorstore
from documents.services.ingest import chunk_points
from tests.factories import make_document

DIM = 384
TEXTS = {
    "en": ["The Kestrel reservoir dam is 71 metres high.", "It was designed by Maria Lindqvist."],
    "el": ["Το φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 71 μέτρα.", "Το σχεδίασε η Μαρία Λίντκβιστ."],
}


def _vectors(texts: list[str]) -> list[list[float]]:
    """Distinct unit vectors (the reconciliation never reads them; no embedding server needed)."""
    return [[1.0 if d == i % DIM else 0.0 for d in range(DIM)] for i, _ in enumerate(texts)]


def _index(document: Document, texts: list[str], *, first_ordinal: int = 0) -> list[Chunk]:
    chunks = [
        Chunk.objects.create(
            document=document,
            ordinal=first_ordinal + i,
            text=text,
            vector_id=Chunk.make_vector_id(document.pk, first_ordinal + i),
            language=document.language,
        )
        for i, text in enumerate(texts)
    ]
    points = chunk_points(document=document, chunks=chunks, vectors=_vectors(texts), access_group_ids=[])
    vectorstore.points_replace(document_id=document.pk, points=points)
    return chunks


def _point_ids(document_id: int) -> set[str]:
    records, _ = vectorstore.qdrant_client().scroll(
        vectorstore.collection_name(DIM), scroll_filter=vectorstore.document_filter(document_id), limit=10_000
    )
    return {str(r.id) for r in records}


def _vector_ids(document: Document) -> set[str]:
    return {str(v) for v in document.chunks.values_list("vector_id", flat=True)}


@pytest.fixture
def store(settings, qdrant_url):
    """The session's real store, a fresh collection for this test."""
    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"r{uuid.uuid4().hex[:10]}"
    return settings


@pytest.fixture
def families(store, db) -> dict[str, Any]:
    """One document of every kind per language, each with its points in the store."""
    docs: dict[str, Any] = {}
    for lang, texts in TEXTS.items():
        title = "Kestrel" if lang == "en" else "Κέστρελ"
        current = make_document(title=f"{title} current", language=lang)
        _index(current, texts)

        old = make_document(title=f"{title} v1", language=lang)
        _index(old, texts)
        Document.objects.filter(pk=old.pk).update(is_current=False, superseded_at=timezone.now())  # the switch
        old.refresh_from_db()
        new = make_document(title=f"{title} v2", language=lang, version_of=old, version=2)
        _index(new, texts)
        # ... and the worker died before delete_version_points was enqueued: old's points stay.

        pending = make_document(title=f"{title} v3", language=lang, version_of=old, version=3, is_current=False)
        pending.status = Document.Status.FAILED  # a staged version that failed: kept for a re-ingest
        pending.save(update_fields=["status"])
        _index(pending, texts)

        ingesting = make_document(title=f"{title} re-ingest", language=lang)
        _index(ingesting, texts)
        Document.objects.filter(pk=ingesting.pk).update(status=Document.Status.PROCESSING)
        Chunk.objects.filter(document=ingesting).delete()  # its chunks are being replaced, its points not yet

        deleting = make_document(title=f"{title} deleting", language=lang)
        _index(deleting, texts)
        Document.objects.filter(pk=deleting.pk).update(deleted_at=timezone.now())  # the cascade never ran

        gone = make_document(title=f"{title} gone", language=lang)
        _index(gone, texts)
        gone_points = _point_ids(gone.pk)
        gone_id = gone.pk
        Chunk.objects.filter(document=gone).delete()
        Document.objects.filter(pk=gone_id).delete()

        stale = make_document(title=f"{title} stale", language=lang)
        _index(stale, texts)
        dropped = Chunk.objects.get(document=stale, ordinal=1)
        dropped_point = str(dropped.vector_id)
        dropped.delete()  # its point was never removed

        docs[lang] = {
            "current": current,
            "old": old,
            "new": new,
            "pending": pending,
            "ingesting": ingesting,
            "deleting": deleting,
            "gone": (gone_id, gone_points),
            "stale": (stale, dropped_point),
        }
    return docs


def _assert_kept(docs: dict[str, Any]) -> None:
    """Current, pending and in-flight documents keep every point."""
    for lang, d in docs.items():
        for key in ("current", "new"):
            assert _point_ids(d[key].pk) == _vector_ids(d[key]) != set(), (lang, key)
        assert len(_point_ids(d["pending"].pk)) == len(TEXTS[lang]), lang
        assert len(_point_ids(d["ingesting"].pk)) == len(TEXTS[lang]), lang


def test_dry_run_reports_every_orphan_and_deletes_nothing(families):
    before = {
        lang: {k: _point_ids(v.pk) for k, v in d.items() if isinstance(v, Document)} for lang, d in families.items()
    }
    report = reconcile.vectorstore_reconcile(dry_run=True, page_size=3)  # small pages: the scroll pages through
    assert report.deleted == 0
    n = len(TEXTS["en"])
    assert report.points["superseded"] == 2 * n
    assert report.points["deleting"] == 2 * n
    assert report.points["missing"] == 2 * n
    assert report.points["stale"] == 2
    assert report.points["pending"] == 2 * n
    assert report.points["ingesting"] == 2 * n
    assert report.orphans == 6 * n + 2
    for lang, d in families.items():
        assert d["old"].pk in report.documents["superseded"], lang
        assert d["gone"][0] in report.documents["missing"], lang
        assert d["stale"][0].pk in report.documents["stale"], lang
        for key, ids in before[lang].items():
            assert _point_ids(families[lang][key].pk) == ids, (lang, key)
        assert _point_ids(d["gone"][0]) == d["gone"][1] != set(), lang


def test_orphans_are_deleted_and_everything_needed_kept(families):
    report = reconcile.vectorstore_reconcile(page_size=4)
    n = len(TEXTS["en"])
    assert report.deleted == report.orphans == 6 * n + 2
    for lang, d in families.items():
        assert _point_ids(d["old"].pk) == set(), lang
        assert _point_ids(d["deleting"].pk) == set(), lang
        assert _point_ids(d["gone"][0]) == set(), lang
        stale, dropped = d["stale"]
        assert _point_ids(stale.pk) == _vector_ids(stale) != set(), lang
        assert dropped not in _point_ids(stale.pk)
    _assert_kept(families)

    again = reconcile.vectorstore_reconcile()  # idempotent
    assert (again.orphans, again.deleted) == (0, 0)
    _assert_kept(families)


def test_a_point_rewritten_after_the_scan_is_not_deleted(families, monkeypatch):
    """A re-ingest writes the same point id with a new chunk between the scan and the delete: it survives."""
    original = reconcile._delete
    rewritten: dict[str, str] = {}

    def rewrite_then_delete(*args: Any, **kwargs: Any) -> int:
        for lang, d in families.items():
            stale, dropped = d["stale"]
            (chunk,) = _index(stale, [f"rewritten {lang}"], first_ordinal=1)  # ordinal 1 again: the same point id
            assert str(chunk.vector_id) == dropped
            rewritten[lang] = dropped
            vectorstore.points_replace(  # the re-ingest's full upsert of both chunks
                document_id=stale.pk,
                points=chunk_points(
                    document=stale,
                    chunks=list(stale.chunks.order_by("ordinal")),
                    vectors=_vectors(["a", "b"]),
                    access_group_ids=[],
                ),
            )
        return original(*args, **kwargs)

    monkeypatch.setattr(reconcile, "_delete", rewrite_then_delete)
    report = reconcile.vectorstore_reconcile()
    assert report.points["stale"] == 2  # seen as stale in the scan ...
    for lang, d in families.items():
        stale, _ = d["stale"]
        assert rewritten[lang] in _point_ids(stale.pk), lang  # ... but not deleted: its chunk id changed
        assert _point_ids(stale.pk) == _vector_ids(stale)
        assert _point_ids(d["old"].pk) == set(), lang


def test_a_version_restored_after_the_scan_keeps_its_points(families, monkeypatch):
    """The superseded version's deletion goes through the versions service's lock and state check."""
    original = reconcile._delete

    def restore_then_delete(*args: Any, **kwargs: Any) -> int:
        for d in families.values():  # as document_version_restore does, in its transaction
            Document.objects.filter(pk=d["pending"].pk).update(superseded_at=timezone.now())  # _pending_make_way
            Document.objects.filter(pk=d["old"].pk).update(superseded_at=None, status=Document.Status.QUEUED)
        return original(*args, **kwargs)

    monkeypatch.setattr(reconcile, "_delete", restore_then_delete)
    reconcile.vectorstore_reconcile()
    for lang, d in families.items():
        assert _point_ids(d["old"].pk) == _vector_ids(d["old"]) != set(), lang
        assert _point_ids(d["deleting"].pk) == set(), lang


def test_management_command_dry_run_then_run(families):
    out = StringIO()
    call_command("vectorstore_reconcile", "--dry-run", stdout=out)
    text = out.getvalue()
    n = len(TEXTS["en"])
    assert f"{2 * n} point(s) of superseded versions" in text
    assert f"{2 * n} point(s) of documents that no longer exist" in text
    assert "2 point(s) of current documents without a matching chunk" in text
    assert f"dry run: {6 * n + 2} orphan point(s) found, none deleted" in text
    assert all(_point_ids(d["old"].pk) for d in families.values())

    out = StringIO()
    call_command("vectorstore_reconcile", stdout=out)
    assert f"{6 * n + 2} orphan point(s) deleted" in out.getvalue()
    assert not any(_point_ids(d["old"].pk) for d in families.values())
    _assert_kept(families)


def test_an_empty_or_absent_collection_is_fine(store, db):
    report = reconcile.vectorstore_reconcile()
    assert (report.scanned, report.deleted) == (0, 0)


@pytest.mark.parametrize("lang", ["en", "el"])
def test_a_deletion_whose_cascade_never_ran_is_finished_and_a_recent_one_left_to_its_own(store, db, settings, lang):
    """A row marked for deletion an hour ago (the worker died before the cascade) goes, points and all."""
    from datetime import timedelta

    from documents.signals import reconcile_vectorstore

    settings.CELERY_TASK_ALWAYS_EAGER = True  # Celery's conf reads Django's settings: never set app.conf here
    stuck = make_document(title="Κέστρελ" if lang == "el" else "Kestrel", language=lang)
    _index(stuck, TEXTS[lang])
    Document.objects.filter(pk=stuck.pk).update(deleted_at=timezone.now() - timedelta(hours=1))
    recent = make_document(title="recent", language=lang)
    _index(recent, TEXTS[lang])
    Document.objects.filter(pk=recent.pk).update(deleted_at=timezone.now())  # its cascade is queued

    assert reconcile.deletions_resume() == [stuck.pk]
    assert not Document.objects.filter(pk=stuck.pk).exists() and _point_ids(stuck.pk) == set()
    assert not Chunk.objects.filter(document_id=stuck.pk).exists()
    assert Document.objects.filter(pk=recent.pk).exists()  # marked a moment ago: not resent

    Document.objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(hours=1))
    assert reconcile_vectorstore.apply(kwargs={"dry_run": True}).get()["deletions_resumed"] == 0
    assert Document.objects.filter(pk=recent.pk).exists()  # a dry run resumes nothing
    assert reconcile_vectorstore.apply().get()["deletions_resumed"] == 1
    assert not Document.objects.filter(pk=recent.pk).exists() and _point_ids(recent.pk) == set()
