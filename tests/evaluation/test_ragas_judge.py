"""RAGAS through the real judge path, on hand-made answers and their mismatched controls.

RAGAS through the real judge path: the ragas environment (var/eval-venv), the worker subprocess, the local LLM as
judge held to ragas' schemas by response_format json_schema, and the embedding server. `make eval` scores all four
metrics on real answers; here two hand-made answers and their mismatched controls are scored on two metrics.
"""

from __future__ import annotations

import math

import pytest
from django.utils import timezone

from chat.models import Query, Response
from evaluation.models import EvaluationRun
from evaluation.services.judge import judge_controls, judge_pick, ragas_evaluate
from evaluation.services.report import report_markdown
from tests.factories import make_chunk, make_document

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

DAM = (
    "The Kestrel reservoir dam, completed in 1968, is 71 meters high and holds 40 million cubic meters of water for "
    "the towns of the valley."
)
BOWL = (
    "Super Bowl 50 was an American football game. The Denver Broncos defeated the Carolina Panthers 24 to 10 to earn "
    "their third Super Bowl title."
)


def _answered(user, *, question: str, answer: str, passage: str, article: int, qid: str) -> dict[str, object]:
    chunk = make_chunk(make_document(), text=passage)
    query = Query.objects.create(user=user, text=question, language="en", channel="eval")
    response = Response.objects.create(
        query=query, text=answer, status=Response.Status.COMPLETED, retrieved=[{"chunk_id": chunk.pk, "score": 0.9}]
    )
    return {"kind": "qa", "language": "en", "status": "completed", "response_id": response.pk, "id": qid,
            "article": article, "question": question, "expected": answer}  # fmt: skip


def test_judge_scores_real_answers_and_their_controls(settings, reader, llm_url, embedding_url):
    settings.EVAL_JUDGE_BASE_URL, settings.EMBEDDING_BASE_URL = llm_url, embedding_url
    settings.LLM_TIMEOUT = 300.0
    dam = _answered(reader, question="How high is the Kestrel reservoir dam?", answer="The dam is 71 meters high.",
                    passage=DAM, article=1, qid="dam")  # fmt: skip
    bowl = _answered(reader, question="Which team won Super Bowl 50?", answer="The Denver Broncos won Super Bowl 50.",
                     passage=BOWL, article=2, qid="bowl")  # fmt: skip
    items = [dam, bowl]
    out = ragas_evaluate(items=items, per_language=2, metrics=("answer_relevancy", "context_recall"))

    assert "error" not in out, out.get("error")
    assert out["structured_output"] == "json_schema" and out["implementation"].startswith("ragas ")
    assert [(s["id"], s["control"]) for s in out["samples"]] == [
        ("dam", False), ("bowl", False), ("dam~bowl", True), ("bowl~dam", True)
    ]  # fmt: skip
    # held to the schema, the 135M judge produces every score (before json_schema: all NaN, invalid JSON)
    assert out["first_errors"] == {}, out["first_errors"]
    for sample in out["samples"]:
        for metric in ("answer_relevancy", "context_recall"):
            assert sample[metric] is not None and 0.0 <= sample[metric] <= 1.0 and math.isfinite(sample[metric])
    assert out["by_language"]["en"]["samples"] == out["controls"]["en"]["samples"] == 2
    assert out["by_language"]["en"]["failed_scores"] == 0
    # answer relevancy compares the question with questions generated back from the answer by embedding: an answer
    # about another article must score lower, even with a weak judge (measured: 0.86 real, 0.71 control, gap 0.15)
    assert out["separation"]["en"]["answer_relevancy"] > 0.05, out
    # the report a librarian reads shows the real row, the control row and the gap
    run = EvaluationRun(scope="fast", status=EvaluationRun.Status.COMPLETED, started_at=timezone.now(),
                        metrics={"ragas": out})  # fmt: skip
    lines = report_markdown(run).splitlines()
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| en")}
    assert set(rows) == {"en", "en control", "en real − control"}, lines
    gap = f"{out['separation']['en']['answer_relevancy']:.3f}"
    assert gap in rows["en real − control"] and "structured output `json_schema`" in "\n".join(lines)


def test_controls_pair_each_question_with_another_articles_answer():
    rows = [
        {"id": "a1", "article": 1, "response": "ra1", "retrieved_contexts": ["ca1"]},
        {"id": "a2", "article": 1, "response": "ra2", "retrieved_contexts": ["ca2"]},
        {"id": "b1", "article": 2, "response": "rb1", "retrieved_contexts": ["cb1"]},
    ]
    controls = judge_controls(rows)
    assert [(c["id"], c["response"], c["retrieved_contexts"]) for c in controls] == [
        ("a1~b1", "rb1", ["cb1"]), ("a2~b1", "rb1", ["cb1"]), ("b1~a1", "ra1", ["ca1"])
    ]  # fmt: skip
    assert all(c["control"] for c in controls)
    assert judge_controls(rows[:1]) == []  # nothing to pair with


def test_judged_questions_are_taken_in_turn_from_each_article():
    def qa(qid: str, article: int, language: str = "en", status: str = "completed") -> dict[str, object]:
        return {"kind": "qa", "id": qid, "article": article, "language": language, "status": status, "response_id": 1}

    items = [qa("a1", 1), qa("a2", 1), qa("a3", 1), qa("b1", 2, status="failed"), qa("b2", 2), qa("g1", 7, "el")]
    assert [i["id"] for i in judge_pick(items, per_language=2)] == ["a1", "b2", "g1"]
    assert [i["id"] for i in judge_pick(items, per_language=3)] == ["a1", "b2", "a2", "g1"]
