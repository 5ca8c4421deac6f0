"""Which hybrid fusion to keep: relative score fusion in the app vs RRF / DBSF in the engine, on the same index.

Each language's XQuAD dev paragraphs are indexed once; every question is asked once per fusion
(``DOCINTEL_RETRIEVAL_FUSION``), each search one Query API batch call. Recall@1, recall@5 and MRR@10 per language and
fusion go to ``test-artifacts/eval-fusion/`` (``make eval``); the default fusion must be the best (or tied) on MRR@10.
"""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from tests.conftest import REPO
from tests.evaluation.xquad import index_language, load, score
from tests.support import use_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FUSIONS = ("relative", "rrf", "dbsf")


async def _hybrid(user, pairs):
    from chat.services.retrieval import passages_retrieve

    rankings = []
    for question, gold in pairs:
        result = await passages_retrieve(user=user, text=question, top_k=10, mode="hybrid", hydrate=False)
        rankings.append(([p.chunk_id for p in result.passages], gold))
    return score(rankings)


def fusion_report(*, user, settings, articles=None, questions_per_language=None):
    report: dict[str, dict[str, dict[str, float]]] = {}
    base_prefix, base_fusion = settings.QDRANT_COLLECTION_PREFIX, settings.DOCINTEL_RETRIEVAL_FUSION
    for language in ("el", "en"):
        settings.QDRANT_COLLECTION_PREFIX = f"{base_prefix}{language}"
        data = load(language)[:articles] if articles else load(language)
        pairs = index_language(language, articles=data)
        if questions_per_language:
            step = max(1, len(pairs) // questions_per_language)
            pairs = pairs[::step][:questions_per_language]
        report[language] = {}
        for fusion in FUSIONS:
            settings.DOCINTEL_RETRIEVAL_FUSION = fusion
            report[language][fusion] = asyncio.run(_hybrid(user, pairs))
    settings.QDRANT_COLLECTION_PREFIX, settings.DOCINTEL_RETRIEVAL_FUSION = base_prefix, base_fusion
    return report


def write(report, name):
    folder = REPO / "test-artifacts" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "retrieval-fusion.json").write_text(json.dumps(report, indent=2))
    lines = ["| language | fusion | recall@1 | recall@5 | MRR@10 | questions |", "|---|---|---|---|---|---|"]
    for language, fusions in report.items():
        for fusion, m in fusions.items():
            lines.append(
                f"| {language} | {fusion} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} "
                f"| {m['questions']} |"
            )
    (folder / "retrieval-fusion.md").write_text("# XQuAD hybrid fusion\n\n" + "\n".join(lines) + "\n")
    return "\n".join(lines)


def check(report, default, tolerance):
    for language, fusions in report.items():
        best = max(m["mrr@10"] for m in fusions.values())
        assert fusions[default]["mrr@10"] >= best - tolerance, (language, default, fusions)


def test_fusion_subset(settings, embedding_url, qdrant_url, librarian):
    """Fast: 3 articles, 40 questions a language; the default fusion is within 0.03 MRR of the best."""
    use_stack(settings, llm_url="http://127.0.0.1:9/v1", embedding_url=embedding_url, qdrant_url=qdrant_url)
    default = settings.DOCINTEL_RETRIEVAL_FUSION
    report = fusion_report(user=librarian, settings=settings, articles=3, questions_per_language=40)
    write(report, "eval-fusion-subset")
    check(report, default, tolerance=0.03)


@pytest.mark.eval
@pytest.mark.timeout(3600)
def test_fusion_full(settings, embedding_url, qdrant_url, librarian):
    """`make eval`: all 612 questions a language, every fusion; prints the table."""
    use_stack(settings, llm_url="http://127.0.0.1:9/v1", embedding_url=embedding_url, qdrant_url=qdrant_url)
    default = settings.DOCINTEL_RETRIEVAL_FUSION
    report = fusion_report(user=librarian, settings=settings)
    sys.stdout.write("\n" + write(report, "eval-fusion") + "\n")
    check(report, default, tolerance=0.0)
