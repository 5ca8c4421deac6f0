"""Shared rows of the review tests: an answered question over real chunks, with its retrieval scores and citations."""

from __future__ import annotations

from typing import Any

import pytest

from chat.models import Query, Response
from tests.factories import make_chunk, make_document

EN: dict[str, Any] = {
    "language": "en",
    "title": "Kestrel reservoir facts",
    "passages": [
        "The Kestrel reservoir dam is 71 metres high.",
        "Swimming in the Kestrel reservoir is forbidden.",
    ],
    "question": "How high is the Kestrel dam?",
    "answer": "The dam is 71 metres high [1].",
    "comment": "It is 81 metres since the 2020 works",
}
EL: dict[str, Any] = {
    "language": "el",
    "title": "Φράγμα Κέστρελ",
    "passages": [
        "Το φράγμα του ταμιευτήρα Κέστρελ έχει ύψος εβδομήντα ένα μέτρα.",
        "Απαγορεύεται το κολύμπι στον ταμιευτήρα Κέστρελ.",
    ],
    "question": "Πόσο ύψος έχει το φράγμα Κέστρελ;",
    "answer": "Το φράγμα έχει ύψος εβδομήντα ένα μέτρα [1].",
    "comment": "Λάθος ύψος: είναι ογδόντα ένα μέτρα",
}


def make_answer(user, case: dict[str, Any], groups=()) -> Response:
    """A stored exchange citing the first of two passages of one document, with scores as retrieval records them."""
    doc = make_document(title=case["title"], groups=groups, language=case["language"])
    chunks = [make_chunk(doc, i, text, page_start=i + 1, page_end=i + 1) for i, text in enumerate(case["passages"])]
    query = Query.objects.create(user=user, text=case["question"], language=case["language"])
    citation = {
        "number": 1, "chunk_id": chunks[0].pk, "document_id": doc.pk, "document_title": doc.title, "page": 1,
        "page_end": 1, "heading": "", "location": "p. 1", "quote": case["passages"][0], "score": 0.91,
        "url": f"/documents/{doc.pk}/source/?chunk={chunks[0].pk}",
    }  # fmt: skip
    retrieved = [
        {"chunk_id": chunks[0].pk, "document_id": doc.pk, "score": 0.91, "dense_score": 0.88, "keyword_score": 1.0},
        {"chunk_id": chunks[1].pk, "document_id": doc.pk, "score": 0.42, "dense_score": 0.81, "keyword_score": None},
    ]
    return Response.objects.create(
        query=query, text=case["answer"], citations=[citation], retrieved=retrieved, status="completed",
        model_name="smollm2-135m-instruct",
    )  # fmt: skip


@pytest.fixture(params=[EN, EL], ids=["en", "el"])
def case(request) -> dict[str, Any]:
    return dict(request.param)
