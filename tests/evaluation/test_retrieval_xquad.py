"""Retrieval quality on XQuAD (Greek and English): gold paragraph in the top 5, hybrid vs dense vs keyword."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO
from tests.evaluation.xquad import evaluate, write_report
from tests.support import use_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def check_subset(report):
    """60 questions a language: too few to rank dense against hybrid reliably, so a small tolerance there."""
    for language, modes in report.items():
        assert modes["hybrid"]["recall@5"] >= 0.90, (language, modes)
        assert modes["hybrid"]["mrr@10"] > modes["keyword"]["mrr@10"], (language, modes)
        assert modes["hybrid"]["mrr@10"] >= modes["dense"]["mrr@10"] - 0.02, (language, modes)


def check(report):
    for language, modes in report.items():
        assert modes["hybrid"]["recall@5"] >= 0.90, (language, modes)
        assert modes["hybrid"]["mrr@10"] > modes["dense"]["mrr@10"], (language, modes)
        assert modes["hybrid"]["mrr@10"] > modes["keyword"]["mrr@10"], (language, modes)
        assert modes["hybrid"]["recall@5"] >= max(modes["dense"]["recall@5"], modes["keyword"]["recall@5"]), modes


def test_xquad_subset_recall(settings, llm_url, embedding_url, qdrant_url, librarian):
    """Fast subset for `make test`: 6 articles, 60 questions per language."""
    use_stack(settings, llm_url=llm_url, embedding_url=embedding_url, qdrant_url=qdrant_url)
    report = evaluate(user=librarian, settings=settings, articles=6, questions_per_language=60)
    write_report(report, REPO / "test-artifacts" / "eval-subset")
    check_subset(report)


@pytest.mark.eval
@pytest.mark.timeout(3600)
def test_xquad_full_recall(settings, llm_url, embedding_url, qdrant_url, librarian):
    """`make eval`: all 120 paragraphs and 612 questions per language; prints the table."""
    use_stack(settings, llm_url=llm_url, embedding_url=embedding_url, qdrant_url=qdrant_url)
    report = evaluate(user=librarian, settings=settings)
    path = write_report(report, REPO / "test-artifacts" / "eval")
    sys.stdout.write("\n" + path.read_text())
    check(report)
