"""Hydration, the database's second word on every vector hit: only passages the reader may read survive, in order.

The store's filter already keeps most of these out; hydration is what catches a point left stale (groups changed,
document deleted or superseded, passage quarantined) before the store caught up. Small queries whatever the
library's size. On PostgreSQL it is one raw query (``Chunk.objects.hits_visible_to``); the ORM's two queries
(``hits_visible_to_orm``) are the reference it must agree with, case by case.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from chat.services.retrieval import _hydrate
from documents.models import Chunk, Document
from tests.factories import make_chunk, make_document

TEXTS = {
    "en": "The Kestrel reservoir dam is 71 metres high.",
    "el": "Το φράγμα του ταμιευτήρα Κέστρελ έχει ύψος 71 μέτρα.",
}


def _hit(chunk, score: float) -> tuple[str, dict[str, Any], float]:
    return str(chunk.vector_id), {"dense_score": score, "keyword_score": None}, score


@pytest.mark.django_db
@pytest.mark.parametrize("lang", list(TEXTS))
def test_only_readable_passages_survive_in_the_stores_order(reader, finance, lang, django_assert_num_queries):
    text = TEXTS[lang]
    other = Group.objects.create(name=f"other-{lang}")
    readable = make_document(title=f"readable {lang}", language=lang, groups=[finance])
    second = make_document(title=f"second {lang}", language=lang, groups=[finance, other])
    unshared = make_document(title=f"unshared {lang}", language=lang, groups=[other])
    deleted = make_document(title=f"deleted {lang}", language=lang, groups=[finance])
    superseded = make_document(title=f"superseded {lang}", language=lang, groups=[finance], is_current=False)
    processing = make_document(
        title=f"processing {lang}", language=lang, groups=[finance], status=Document.Status.PROCESSING
    )
    chunks = {
        "readable": make_chunk(readable, 0, text, page_start=3, page_end=4),
        "quarantined": make_chunk(readable, 1, text, injection_flag=True),
        "released": make_chunk(readable, 2, text, injection_flag=True, released_at=timezone.now()),
        "second": make_chunk(second, 0, text),
        "unshared": make_chunk(unshared, 0, text),
        "deleted": make_chunk(deleted, 0, text),
        "superseded": make_chunk(superseded, 0, text),
        "processing": make_chunk(processing, 0, text),
    }
    Document.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    order = ["unshared", "second", "quarantined", "deleted", "readable", "superseded", "released", "processing"]
    hits = [_hit(chunks[name], 0.9 - i / 100) for i, name in enumerate(order)]
    hits.insert(2, ("00000000-0000-4000-8000-000000000000", {}, 0.5))  # a point with no chunk any more

    with django_assert_num_queries(2):  # the reader's librarian role, then the readable hits in one query
        passages = _hydrate(reader, hits)

    assert [p.chunk_id for p in passages] == [chunks[n].pk for n in ("second", "readable", "released")]
    first = passages[1]
    assert (first.document_id, first.document_title, first.text) == (readable.pk, f"readable {lang}", text)
    assert (first.page, first.page_end, first.location, first.flagged) == (3, 4, "pp. 3-4", False)
    assert first.score == first.dense_score == pytest.approx(0.86)
    assert passages[2].flagged is True  # released: shown, still marked


@pytest.mark.django_db
def test_a_librarian_reads_unshared_documents_and_nobody_reads_quarantined_passages(librarian, outsider, finance):
    document = make_document(title="unshared", language="el", groups=[])
    kept, held = make_chunk(document, 0, TEXTS["el"]), make_chunk(document, 1, TEXTS["el"], injection_flag=True)
    hits = [_hit(kept, 0.9), _hit(held, 0.8)]
    assert [p.chunk_id for p in _hydrate(librarian, hits)] == [kept.pk]
    assert _hydrate(outsider, hits) == []
    assert _hydrate(None, hits) == []


@pytest.mark.django_db
@pytest.mark.parametrize("lang", list(TEXTS))
def test_the_single_query_agrees_with_the_orms_rules_for_every_kind_of_user(
    reader, librarian, outsider, finance, django_user_model, lang
):
    text = TEXTS[lang]
    other = Group.objects.create(name=f"other-{lang}")
    superuser = django_user_model.objects.create_superuser(f"root-{lang}@example.com", "x")
    inactive = django_user_model.objects.create_user(f"gone-{lang}@example.com", "x", is_active=False)
    inactive.groups.add(finance)
    both = django_user_model.objects.create_user(f"both-{lang}@example.com", "x")
    both.groups.add(finance, other)
    documents = [
        make_document(title=f"finance {lang}", language=lang, groups=[finance]),
        make_document(title=f"other {lang}", language=lang, groups=[other]),
        make_document(title=f"nobody {lang}", language=lang, groups=[]),
        make_document(title=f"old {lang}", language=lang, groups=[finance], is_current=False),
        make_document(title=f"failed {lang}", language=lang, groups=[finance], status=Document.Status.FAILED),
        make_document(title=f"deleted {lang}", language=lang, groups=[finance, other]),
    ]
    Document.objects.filter(pk=documents[-1].pk).update(deleted_at=timezone.now())
    chunks = []
    for document in documents:
        chunks += [
            make_chunk(document, 0, text, page_start=2, heading_path=["Κεφάλαιο 1", "Fees"]),
            make_chunk(document, 1, text, injection_flag=True),
            make_chunk(document, 2, text, injection_flag=True, released_at=timezone.now()),
        ]
    ids = [str(c.vector_id) for c in chunks] + ["00000000-0000-4000-8000-000000000000"]

    def seen(found: list[Chunk]) -> list[tuple[Any, ...]]:
        rows = [
            (c.pk, c.document_id, c.document_title, c.text, c.page_start, c.heading, c.location, c.injection_flag)
            for c in found
        ]
        return sorted(rows)

    expected = {
        "reader": {"finance"}, "both": {"finance", "other"}, "outsider": set(), "inactive": set(),
        "librarian": {"finance", "other", "nobody", "failed"}, "superuser": {"finance", "other", "nobody", "failed"},
    }  # fmt: skip
    users = {
        "reader": reader, "both": both, "outsider": outsider, "inactive": inactive, "librarian": librarian,
        "superuser": superuser,
    }  # fmt: skip
    for name, user in users.items():
        found = Chunk.objects.hits_visible_to(user, ids)
        assert seen(found) == seen(Chunk.objects.hits_visible_to_orm(user, ids)), name
        assert {c.document_title.split()[0] for c in found} == expected[name], name
        assert all(not c.injection_flag or c.released_at for c in found), name  # quarantined: never
        assert len(found) == 2 * len(expected[name]), name
    assert Chunk.objects.hits_visible_to(None, ids) == []
    assert Chunk.objects.hits_visible_to(reader, []) == []


@pytest.mark.django_db
def test_a_group_removed_after_the_search_was_scoped_is_honoured(reader, finance):
    """The reader's groups are read live by the query, not taken from the scope the search was filtered by."""
    document = make_document(title="Προϋπολογισμός", language="el", groups=[finance])
    chunk = make_chunk(document, 0, TEXTS["el"])
    reader.access_load()  # the scope, as the answer path computes it before searching
    assert [c.pk for c in Chunk.objects.hits_visible_to(reader, [str(chunk.vector_id)])] == [chunk.pk]
    reader.groups.remove(finance)
    assert Chunk.objects.hits_visible_to(reader, [str(chunk.vector_id)]) == []
    assert Chunk.objects.hits_visible_to_orm(reader, [str(chunk.vector_id)]) == []
