"""Hydration, the database's second word on every vector hit: only passages the reader may read survive, in order.

The store's filter already keeps most of these out; hydration is what catches a point left stale (groups changed,
document deleted or superseded, passage quarantined) before the store caught up. Small queries whatever the
library's size: the hits by vector id, then which of their documents the reader may see.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from chat.services.retrieval import _hydrate
from documents.models import Document
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

    with django_assert_num_queries(3):  # the hits by vector id, the reader's librarian role, their readable documents
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
