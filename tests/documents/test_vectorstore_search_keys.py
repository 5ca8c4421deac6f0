"""``search_keys``: the one payload field every search filters on, kept in step with groups, quarantine and staging.

On the real store, English and Greek: what ingestion writes, what each payload setter leaves, what a reader's and a
librarian's search then return, the back-fill of a collection written before the field, and the repair of keys
left behind by a crash between a flag's write and its keys' refresh.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Group

from documents.models import Chunk, Document
from documents.services import reconcile, vectorstore
from documents.services.ingest import chunk_points
from documents.services.vectorstore import LIBRARIAN_KEY, SEARCH_KEYS
from tests.factories import make_document

DIM = 384
TEXTS = {
    "en": ["The Kestrel reservoir dam is 71 metres high.", "It was designed by Maria Lindqvist."],
    "el": ["Το φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 71 μέτρα.", "Το σχεδίασε η Μαρία Λίντκβιστ."],
}
LANGUAGES = list(TEXTS)


@pytest.fixture
def store(settings, qdrant_url):
    """The session's real store, a fresh collection for this test."""
    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"k{uuid.uuid4().hex[:10]}"
    return settings


def _index(document: Document, texts: list[str], groups: list[int], *, quarantined: int | None = None) -> list[Chunk]:
    chunks = [
        Chunk.objects.create(
            document=document,
            ordinal=i,
            text=text,
            vector_id=Chunk.make_vector_id(document.pk, i),
            language=document.language,
            injection_flag=(i == quarantined),
        )
        for i, text in enumerate(texts)
    ]
    vectors = [[1.0 if d == i else 0.0 for d in range(DIM)] for i in range(len(texts))]
    points = chunk_points(document=document, chunks=chunks, vectors=vectors, access_group_ids=groups)
    vectorstore.points_replace(document_id=document.pk, points=points)
    return chunks


def _keys(document: Document) -> dict[int, list[int]]:
    """Each point's ``search_keys`` by chunk ordinal."""
    records, _ = vectorstore.qdrant_client().scroll(
        vectorstore.collection_name(DIM), scroll_filter=vectorstore.document_filter(document.pk), limit=100
    )
    return {int((r.payload or {})["ordinal"]): (r.payload or {})[SEARCH_KEYS] for r in records}


def _found(group_ids: list[int] | None) -> set[tuple[int, int]]:
    """(document id, ordinal) of every point a search with this scope returns (``None``: a librarian)."""
    hits = vectorstore.qdrant_client().query_points(
        vectorstore.collection_name(DIM),
        query=[1.0] + [0.0] * (DIM - 1),
        using=vectorstore.DENSE,
        query_filter=vectorstore.permission_filter(group_ids=group_ids),
        limit=100,
        with_payload=True,
    )
    return {(int((p.payload or {})["document_id"]), int((p.payload or {})["ordinal"])) for p in hits.points}


@pytest.fixture
def groups(db) -> tuple[Group, Group]:
    """Two access groups: the reader's and somebody else's."""
    return Group.objects.create(name="keys-mine"), Group.objects.create(name="keys-theirs")


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_ingestion_writes_the_groups_and_the_librarian_key_and_none_for_held_out_points(store, groups, lang):
    mine, theirs = groups
    shared = make_document(title=f"shared {lang}", language=lang, groups=[mine, theirs])
    _index(shared, TEXTS[lang], [mine.pk, theirs.pk], quarantined=1)
    staged = make_document(title=f"staged {lang}", language=lang, groups=[mine], is_current=False)
    _index(staged, TEXTS[lang], [mine.pk])

    assert _keys(shared) == {0: [*sorted([mine.pk, theirs.pk]), LIBRARIAN_KEY], 1: []}
    assert _keys(staged) == {0: [], 1: []}
    assert _found([mine.pk]) == {(shared.pk, 0)}
    assert _found(None) == {(shared.pk, 0)}  # librarians neither see quarantined nor staged points
    assert _found([]) == set()


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_new_groups_reach_the_keys_and_a_quarantined_point_stays_out(store, groups, lang):
    mine, theirs = groups
    document = make_document(title=f"doc {lang}", language=lang, groups=[theirs])
    _index(document, TEXTS[lang], [theirs.pk], quarantined=1)
    assert _found([mine.pk]) == set()

    vectorstore.points_set_access(document_id=document.pk, access_group_ids=[mine.pk])

    assert _keys(document) == {0: [mine.pk, LIBRARIAN_KEY], 1: []}
    assert _found([mine.pk]) == {(document.pk, 0)}
    assert _found([theirs.pk]) == set()

    vectorstore.points_set_access(document_id=document.pk, access_group_ids=[])  # shared with nobody: librarians only
    assert _keys(document) == {0: [LIBRARIAN_KEY], 1: []}
    assert _found([mine.pk]) == set()
    assert _found(None) == {(document.pk, 0)}


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_staging_empties_the_keys_and_unstaging_restores_them_but_not_for_quarantined_points(store, groups, lang):
    mine, _ = groups
    document = make_document(title=f"doc {lang}", language=lang, groups=[mine])
    _index(document, TEXTS[lang], [mine.pk], quarantined=1)

    vectorstore.points_set_staged(document_id=document.pk, staged=True)
    assert _keys(document) == {0: [], 1: []}
    assert _found([mine.pk]) == set()
    assert _found(None) == set()

    vectorstore.points_set_staged(document_id=document.pk, staged=False)
    assert _keys(document) == {0: [mine.pk, LIBRARIAN_KEY], 1: []}
    assert _found([mine.pk]) == {(document.pk, 0)}


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_quarantine_and_release_of_one_passage(store, groups, lang):
    mine, _ = groups
    document = make_document(title=f"doc {lang}", language=lang, groups=[mine])
    chunks = _index(document, TEXTS[lang], [mine.pk])
    point = str(chunks[0].vector_id)

    vectorstore.points_set_quarantine(point_ids=[point], quarantined=True)
    assert _keys(document) == {0: [], 1: [mine.pk, LIBRARIAN_KEY]}
    assert _found([mine.pk]) == {(document.pk, 1)}
    assert _found(None) == {(document.pk, 1)}

    vectorstore.points_set_quarantine(point_ids=[point], quarantined=False)
    assert _keys(document) == {0: [mine.pk, LIBRARIAN_KEY], 1: [mine.pk, LIBRARIAN_KEY]}
    assert _found([mine.pk]) == {(document.pk, 0), (document.pk, 1)}

    vectorstore.points_set_staged(document_id=document.pk, staged=True)  # a release never un-stages a version
    vectorstore.points_set_quarantine(point_ids=[point], quarantined=False)
    assert _keys(document) == {0: [], 1: []}


def _strip_keys(document: Document) -> None:
    client = vectorstore.qdrant_client()
    client.delete_payload(
        vectorstore.collection_name(DIM),
        keys=[SEARCH_KEYS],
        points=[str(v) for v in document.chunks.values_list("vector_id", flat=True)],
        wait=True,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_collection_from_before_the_field_is_back_filled_when_first_used(store, groups, lang):
    mine, _ = groups
    document = make_document(title=f"old {lang}", language=lang, groups=[mine])
    _index(document, TEXTS[lang], [mine.pk], quarantined=1)
    client = vectorstore.qdrant_client()
    name = vectorstore.collection_name(DIM)
    _strip_keys(document)
    client.delete_payload_index(name, SEARCH_KEYS, wait=True)
    vectorstore._indexes_checked.clear()  # a new process: it has not looked at this collection yet
    assert _found([mine.pk]) == set()  # before: the old points are invisible to every search

    vectorstore.payload_indexes_ensure(client=client, name=name)

    assert SEARCH_KEYS in (client.get_collection(name).payload_schema or {})
    assert _keys(document) == {0: [mine.pk, LIBRARIAN_KEY], 1: []}
    assert _found([mine.pk]) == {(document.pk, 0)}


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_reconcile_repairs_keys_a_crash_left_behind(store, groups, lang):
    mine, theirs = groups
    document = make_document(title=f"doc {lang}", language=lang, groups=[mine])
    _index(document, TEXTS[lang], [mine.pk])
    client = vectorstore.qdrant_client()
    name = vectorstore.collection_name(DIM)
    # the groups were written, then the process died before the keys' refresh
    client.set_payload(
        name, payload={"access_group_ids": [theirs.pk]}, points=vectorstore.document_filter(document.pk), wait=True
    )
    assert _found([theirs.pk]) == set()

    dry: Any = reconcile.vectorstore_reconcile(dry_run=True)
    assert dry.keys_repaired == 0
    assert _found([theirs.pk]) == set()

    report = reconcile.vectorstore_reconcile()

    assert report.keys_repaired == 2
    assert _found([theirs.pk]) == {(document.pk, 0), (document.pk, 1)}
    assert _found([mine.pk]) == set()
    assert reconcile.vectorstore_reconcile().keys_repaired == 0


@pytest.mark.django_db
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_shape_of_the_permission_filter_finds_exactly_the_readers_points(store, lang):
    """One group (a MatchValue), several (any of them), more than MAX_KEY_CONDITIONS (one MatchAny), a librarian."""
    from qdrant_client import models

    groups = [Group.objects.create(name=f"shape-{lang}-{i}") for i in range(3)]
    docs = [make_document(title=f"shape {lang} {i}", language=lang, groups=[g]) for i, g in enumerate(groups)]
    for doc, group in zip(docs, groups, strict=True):
        _index(doc, TEXTS[lang], [group.pk], quarantined=1)
    visible = {i: {(doc.pk, 0)} for i, doc in enumerate(docs)}
    strangers = list(range(10_000_000, 10_000_000 + vectorstore.MAX_KEY_CONDITIONS))  # groups nobody shares with

    one = vectorstore.permission_filter(group_ids=[groups[0].pk])
    two = vectorstore.permission_filter(group_ids=[groups[2].pk, groups[0].pk])
    many = vectorstore.permission_filter(group_ids=[groups[1].pk, *strangers])
    assert [type(c.match) for c in one.must] == [models.MatchValue] and one.should is None
    assert [c.match.value for c in two.should] == sorted([groups[0].pk, groups[2].pk]) and two.must is None
    assert isinstance(many.must[0].match, models.MatchAny) and len(many.must[0].match.any) == len(strangers) + 1
    assert _found([groups[0].pk]) == visible[0]
    assert _found([groups[2].pk, groups[0].pk]) == visible[0] | visible[2]
    assert _found([groups[1].pk, *strangers]) == visible[1]
    assert _found(strangers) == set()
    assert _found(None) == visible[0] | visible[1] | visible[2]  # never the quarantined passage 1
