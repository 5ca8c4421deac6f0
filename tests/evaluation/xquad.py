"""XQuAD retrieval evaluation: recall@1, recall@5 and MRR@10 for dense, keyword and hybrid rankings.

XQuAD retrieval evaluation: index the paragraphs through the ingestion services, ask every question, score
whether the gold paragraph is retrieved (recall@1, recall@5, MRR@10) for dense-only, keyword-only and hybrid
rankings of the same run. Used by tests/evaluation/test_retrieval_xquad.py (`make eval`) and the fast subset.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import SHARED_DATA
from tests.factories import make_document
from tests.support import index_document

MODES = ("dense", "keyword", "hybrid")


def load(language: str) -> list[dict[str, Any]]:
    data = json.loads((SHARED_DATA / "qa" / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))
    articles: list[dict[str, Any]] = data["data"]
    return articles


def index_language(language: str, *, articles: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Index every paragraph as a chunk (one document per article); returns (question, gold chunk id) pairs."""
    pairs: list[tuple[str, int]] = []
    for article in articles:
        texts = [p["context"] for p in article["paragraphs"]]
        doc = make_document(title=article.get("title") or f"xquad-{uuid.uuid4().hex[:6]}", language=language)
        chunks = index_document(doc, texts)
        for chunk, paragraph in zip(chunks, article["paragraphs"], strict=True):
            pairs.extend((qa["question"], chunk.pk) for qa in paragraph["qas"])
    collection_settled()
    return pairs


def collection_settled(timeout: float = 300.0) -> None:
    """Wait until the store has optimized the collection (green): its segments indexed, int8 copy included.

    A library at rest is searched that way. The embedded store indexes only segments above
    ``QDRANT_EDGE_INDEXING_THRESHOLD_KB``: 10 MB by default, more than XQuAD's paragraphs, and 1 KB in the tests'
    store (``qdrant_url``), so these scores are the int8 scan's.
    """
    import time

    from documents.services.vectorstore import collection_name, qdrant_client

    client, name = qdrant_client(), collection_name()
    deadline = time.monotonic() + timeout
    while (status := client.get_collection(name).status) != "green":
        assert time.monotonic() < deadline, f"the collection stayed {status}"
        time.sleep(0.2)


def score(rankings: list[tuple[list[int], int]]) -> dict[str, float]:
    n = len(rankings)
    r1 = sum(1 for ranked, gold in rankings if ranked[:1] == [gold])
    r5 = sum(1 for ranked, gold in rankings if gold in ranked[:5])
    mrr = sum(1.0 / (ranked.index(gold) + 1) for ranked, gold in rankings if gold in ranked[:10])
    return {"recall@1": round(r1 / n, 4), "recall@5": round(r5 / n, 4), "mrr@10": round(mrr / n, 4), "questions": n}


async def _evaluate(user: Any, pairs: list[tuple[str, int]]) -> dict[str, dict[str, float]]:
    from chat.services.retrieval import passages_retrieve

    per_mode: dict[str, list[tuple[list[int], int]]] = {m: [] for m in MODES}
    raw: list[tuple[list[tuple[int, float]], list[tuple[int, float]], int]] = []
    for question, gold in pairs:
        result = await passages_retrieve(user=user, text=question, top_k=10, mode="hybrid", hydrate=False)
        per_mode["hybrid"].append(([p.chunk_id for p in result.passages], gold))
        per_mode["dense"].append((result.dense_chunk_ids, gold))
        per_mode["keyword"].append((result.keyword_chunk_ids, gold))
        raw.append((result.dense_ranked, result.keyword_ranked, gold))
    report = {mode: score(rankings) for mode, rankings in per_mode.items()}
    report.update(ablations(raw))
    return report


def ablations(raw: list[tuple[list[tuple[int, float]], list[tuple[int, float]], int]]) -> dict[str, dict[str, float]]:
    """Other fusions of the same candidate lists (for choosing the production fusion; not used by it)."""

    def wrrf(dense, keyword, wd, wk, k=60):
        fused: dict[int, float] = {}
        for weight, ranking in ((wd, dense), (wk, keyword)):
            for rank, (cid, _) in enumerate(ranking, start=1):
                fused[cid] = fused.get(cid, 0.0) + weight / (k + rank)
        return [cid for cid, _ in sorted(fused.items(), key=lambda x: -x[1])]

    def minmax(dense, keyword, alpha):
        fused: dict[int, float] = {}
        for weight, ranking in ((alpha, dense), (1 - alpha, keyword)):
            if not ranking:
                continue
            hi, lo = ranking[0][1], ranking[-1][1]
            for cid, s in ranking:
                fused[cid] = fused.get(cid, 0.0) + weight * ((s - lo) / (hi - lo) if hi > lo else 1.0)
        return [cid for cid, _ in sorted(fused.items(), key=lambda x: -x[1])]

    out = {}
    for wd, wk in ((1, 1), (2, 1), (3, 1)):
        out[f"ablation_rrf_{wd}_{wk}"] = score([(wrrf(d, k, wd, wk), g) for d, k, g in raw])
    for alpha in (0.5, 0.6, 0.7, 0.8):
        out[f"ablation_minmax_{alpha}"] = score([(minmax(d, k, alpha), g) for d, k, g in raw])
    return out


def evaluate(
    *,
    user: Any,
    settings: Any,
    languages: tuple[str, ...] = ("el", "en"),
    questions_per_language: int | None = None,
    articles: int | None = None,
) -> dict[str, Any]:
    """Index and evaluate each language in its own collection; returns ``{language: {mode: metrics}}``."""
    report: dict[str, Any] = {}
    base_prefix = settings.QDRANT_COLLECTION_PREFIX
    for language in languages:
        settings.QDRANT_COLLECTION_PREFIX = f"{base_prefix}{language}"
        data = load(language)[:articles] if articles else load(language)
        pairs = index_language(language, articles=data)
        if questions_per_language:
            step = max(1, len(pairs) // questions_per_language)
            pairs = pairs[::step][:questions_per_language]
        report[language] = asyncio.run(_evaluate(user, pairs))
    settings.QDRANT_COLLECTION_PREFIX = base_prefix
    return report


def write_report(report: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "retrieval-xquad.json").write_text(json.dumps(report, indent=2))
    lines = ["| language | mode | recall@1 | recall@5 | MRR@10 | questions |", "|---|---|---|---|---|---|"]
    for language, modes in report.items():
        for mode, m in modes.items():
            row = f"| {language} | {mode} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f}"
            lines.append(f"{row} | {m['questions']} |")
    path = folder / "retrieval-xquad.md"
    path.write_text("# XQuAD retrieval\n\n" + "\n".join(lines) + "\n")
    return path
