"""Hybrid retrieval is one request to the store, whatever the fusion, and keeps the per-leg scores and the filter."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest

from chat.components.retrieval import FUSIONS, RETURNED_FIELDS, HybridQdrantRetriever
from chat.components.scope import AccessScope

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

DIM = 8


@pytest.fixture
def indexed(settings, qdrant_url):
    from documents.services.vectorstore import PointData, points_replace

    settings.QDRANT_URL = qdrant_url
    settings.QDRANT_COLLECTION_PREFIX = f"t{uuid.uuid4().hex[:10]}"
    rng = random.Random(3)
    points = [
        PointData(
            id=str(uuid.uuid4()),
            dense=[rng.uniform(-1, 1) for _ in range(DIM)],
            sparse_indices=[i % 7],
            sparse_values=[1.0],
            payload={
                "document_id": 1,
                "chunk_id": i,
                "access_group_ids": [1 + i % 2],
                "language": ("el", "en")[i % 3 == 0],
                "page": 1 + i // 10,
                "ordinal": i,
                "mime_type": "text/plain",
            },
        )
        for i in range(60)
    ]
    points_replace(document_id=1, points=points)
    return qdrant_url


def _search(url: str, fusion: str, group_ids: tuple[int, ...], calls: list[str]) -> dict[str, Any]:
    retriever = HybridQdrantRetriever(url=url, fusion=fusion, candidates=20)

    async def go() -> dict[str, Any]:
        client = retriever._client()
        batch = client.query_batch_points

        async def counting(*args, **kwargs):
            calls.append("batch")
            return await batch(*args, **kwargs)

        async def refused(*args, **kwargs):
            calls.append("single")
            raise AssertionError("a second round trip")

        client.query_batch_points, client.query_points = counting, refused
        return await retriever.run_async(
            dense=[0.3] * DIM,
            sparse_indices=[3],
            sparse_values=[1.0],
            scope=AccessScope(unrestricted=False, group_ids=group_ids),
            top_k=5,
        )

    return asyncio.run(go())


@pytest.mark.parametrize("fusion", FUSIONS)
def test_one_request_per_hybrid_search_with_per_leg_scores(indexed, fusion):
    calls: list[str] = []
    out = _search(indexed, fusion, (1,), calls)
    assert calls == ["batch"]
    assert len(out["documents"]) == 5 and out["dense"] and out["keyword"]
    assert all(d.meta["access_group_ids"] == [1] for d in out["documents"])
    # only the fields the readers of a hit take come back: the rest of the payload stays in the store
    for doc in out["documents"]:
        assert set(doc.meta) - {"dense_score", "keyword_score"} == set(RETURNED_FIELDS)
        assert doc.meta["page"] == 1 + doc.meta["chunk_id"] // 10
        assert doc.meta["language"] == ("el", "en")[doc.meta["chunk_id"] % 3 == 0]
    assert all(p.access_group_ids == (1,) for p in [*out["dense"], *out["keyword"]])
    assert all(p.chunk_id > 0 for p in [*out["dense"], *out["keyword"]])
    dense_scores = {d.id: d.score for d in out["dense"]}
    keyword_scores = {d.id: d.score for d in out["keyword"]}
    for doc in out["documents"]:
        assert "dense_score" in doc.meta or "keyword_score" in doc.meta
        assert doc.meta.get("dense_score") == dense_scores.get(doc.id)
        assert doc.meta.get("keyword_score") == keyword_scores.get(doc.id)
    scores = [d.score for d in out["documents"]]
    assert scores == sorted(scores, reverse=True)


def test_a_group_with_no_documents_finds_nothing(indexed):
    calls: list[str] = []
    out = _search(indexed, "relative", (99,), calls)
    assert calls == ["batch"] and out["documents"] == [] and out["dense"] == [] and out["keyword"] == []
