"""RAGAS metrics (faithfulness, answer relevancy, context precision, context recall) by an OpenAI-compatible judge.

ragas 0.4.3 cannot be installed next to the portal's stack (its ``instructor`` dependency caps ``jiter<0.15``, the
portal's openai 3.54 needs ``jiter>=0.16``), so it lives in its own environment (``requirements/eval.txt``,
``EVAL_RAGAS_PYTHON``, built by ``make eval``) and runs :mod:`evaluation.services.ragas_worker` over a JSON file
of samples. The judge is ``EVAL_JUDGE_BASE_URL`` / ``EVAL_JUDGE_MODEL`` (the answering model by default).
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.conf import settings

from chat.models import Response
from documents.models import Chunk

WORKER = Path(__file__).resolve().parent / "ragas_worker.py"
METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")


def ragas_python() -> Path:
    """The interpreter of the separate RAGAS environment (``EVAL_RAGAS_PYTHON``) that runs the worker."""
    return Path(settings.EVAL_RAGAS_PYTHON)


def judge_describe() -> dict[str, Any]:
    """The judge's configuration as the run records it in its settings (no API key)."""
    return {
        "base_url": settings.EVAL_JUDGE_BASE_URL,
        "model": settings.EVAL_JUDGE_MODEL,
        "structured_output": settings.EVAL_JUDGE_STRUCTURED_OUTPUT,
        "ragas_python": str(ragas_python()),
    }


def ragas_samples(*, items: list[dict[str, Any]], per_language: int) -> list[dict[str, Any]]:
    """Answered XQuAD questions as RAGAS samples: question, answer, the passages it was built from, gold span.

    Each language also gets one *control* per sample: the same question and gold span, but the answer and the passages
    of a question about another article. A judge worth trusting scores controls clearly lower; the report prints both
    means, so a judge that cannot tell a real answer from a wrong one shows up as such instead of as a number.

    Args:
        items: the run's per-question rows (only answered ``qa`` rows with a ``response_id`` are used).
        per_language: how many questions to take per language.

    Returns:
        The real samples of each language followed by their controls (``control`` True).
    """
    picked = judge_pick(items, per_language=per_language)
    responses = {r.pk: r for r in Response.objects.filter(pk__in=[i["response_id"] for i in picked])}
    chunk_ids = {int(r["chunk_id"]) for resp in responses.values() for r in resp.retrieved if "chunk_id" in r}
    texts = dict(Chunk.objects.filter(pk__in=chunk_ids).values_list("id", "text"))
    real: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in picked:
        response = responses[item["response_id"]]
        contexts = [texts[int(r["chunk_id"])] for r in response.retrieved if int(r.get("chunk_id", 0)) in texts]
        real[item["language"]].append(
            {
                "id": item["id"],
                "language": item["language"],
                "article": item.get("article"),
                "control": False,
                "response_id": item["response_id"],
                "user_input": item["question"],
                "response": response.text,
                "retrieved_contexts": contexts,
                "reference": item["expected"],
            }
        )
    samples: list[dict[str, Any]] = []
    for rows in real.values():
        samples.extend(rows)
        samples.extend(judge_controls(rows))
    return samples


def judge_pick(items: list[dict[str, Any]], *, per_language: int) -> list[dict[str, Any]]:
    """Up to ``per_language`` answered questions per language, taken in turn from each article.

    So a control (another article's answer and passages) exists whenever more than one article was asked about.

    Args:
        items: the run's per-question rows.
        per_language: how many to take per language at most.

    Returns:
        The picked rows, round-robin over the articles of each language.
    """
    by_article: dict[str, dict[Any, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        if item.get("kind") == "qa" and item.get("status") == "completed" and item.get("response_id"):
            by_article[item["language"]][item.get("article")].append(item)
    picked: list[dict[str, Any]] = []
    for articles in by_article.values():
        queues = list(articles.values())
        taken = 0
        while taken < per_language and any(queues):
            for queue in queues:
                if queue and taken < per_language:
                    picked.append(queue.pop(0))
                    taken += 1
    return picked


def judge_controls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mismatched twins of ``rows``: each question with the answer and passages of another article's question.

    The donor is the next row about another article, or the next row at all when every row is about one article.
    """
    controls = []
    for i, row in enumerate(rows):
        others = rows[i + 1 :] + rows[:i]
        donor = next((o for o in others if o.get("article") != row.get("article")), others[0] if others else None)
        if donor is None:
            continue
        controls.append(
            {
                **row,
                "id": f"{row['id']}~{donor['id']}",
                "control": True,
                "response": donor["response"],
                "retrieved_contexts": donor["retrieved_contexts"],
            }
        )
    return controls


def ragas_evaluate(
    *, items: list[dict[str, Any]], per_language: int, metrics: tuple[str, ...] = METRICS, timeout: float = 3600.0
) -> dict[str, Any]:
    """Score up to ``per_language`` answered questions per language, and their controls, with RAGAS.

    Args:
        items: the run's per-question rows.
        per_language: how many answered questions to judge per language.
        metrics: the RAGAS metrics to compute.
        timeout: seconds the worker may take in all.

    Returns:
        ``{"implementation", "judge_model", "judge_base_url", "structured_output", "by_language": {lang: {metric:
        mean, "samples", "failed_scores"}}, "controls": {lang: same over the controls}, "separation": {lang: {metric:
        real mean - control mean}}, "samples": [per-sample scores]}``; ``error`` when the judge environment failed.
    """
    samples = ragas_samples(items=items, per_language=per_language)
    out: dict[str, Any] = {
        "implementation": "ragas 0.4.3",
        "judge_model": settings.EVAL_JUDGE_MODEL,
        "judge_base_url": settings.EVAL_JUDGE_BASE_URL,
        "structured_output": settings.EVAL_JUDGE_STRUCTURED_OUTPUT,
        "by_language": {},
        "controls": {},
        "separation": {},
        "samples": [],
    }
    if not samples:
        out["error"] = "no answered questions to judge"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "samples.json", Path(tmp) / "scores.json"
        source.write_text(json.dumps(samples, ensure_ascii=False), encoding="utf-8")
        config = {
            "base_url": settings.EVAL_JUDGE_BASE_URL,
            "model": settings.EVAL_JUDGE_MODEL,
            "api_key": settings.EVAL_JUDGE_API_KEY,
            "embedding_base_url": settings.EMBEDDING_BASE_URL,
            "embedding_api_key": settings.EMBEDDING_API_KEY,
            "max_tokens": settings.EVAL_JUDGE_MAX_TOKENS,
            "structured_output": settings.EVAL_JUDGE_STRUCTURED_OUTPUT,
            "timeout": settings.LLM_TIMEOUT,
            "metrics": list(metrics),
        }
        proc = subprocess.run(  # noqa: S603 - our own worker script with a fixed interpreter
            [str(ragas_python()), str(WORKER), str(source), str(target), json.dumps(config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0 or not target.exists():
            out["error"] = (proc.stderr or proc.stdout or f"exit {proc.returncode}")[-1500:]
            return out
        scores = json.loads(target.read_text(encoding="utf-8"))
    out["implementation"] = scores.get("implementation", out["implementation"])
    groups: dict[bool, dict[str, dict[str, list[float | None]]]] = {
        False: defaultdict(lambda: defaultdict(list)),
        True: defaultdict(lambda: defaultdict(list)),
    }
    for sample, row in zip(samples, scores["rows"], strict=True):
        clean = {m: _finite(row.get(m)) for m in metrics}
        errors = row.get("errors") or {}
        head = {"id": sample["id"], "language": sample["language"], "control": sample["control"]}
        out["samples"].append({**head, **clean, "errors": errors})
        for metric, value in clean.items():
            groups[sample["control"]][sample["language"]][metric].append(value)
    first_errors: dict[str, str] = {}
    for sample_row in out["samples"]:
        for metric, message in sample_row["errors"].items():
            first_errors.setdefault(metric, str(message)[:160])
    out["first_errors"] = first_errors
    out["by_language"] = {lang: _summary(m, metrics) for lang, m in groups[False].items()}
    out["controls"] = {lang: _summary(m, metrics) for lang, m in groups[True].items()}
    for language, summary in out["by_language"].items():
        control = out["controls"].get(language, {})
        out["separation"][language] = {
            metric: round(summary[metric] - control[metric], 4)
            for metric in metrics
            if summary.get(metric) is not None and control.get(metric) is not None
        }
    return out


def _summary(scores: dict[str, list[float | None]], metrics: tuple[str, ...]) -> dict[str, Any]:
    summary: dict[str, Any] = {"samples": len(scores[metrics[0]]), "failed_scores": 0}
    for metric in metrics:
        values = scores[metric]
        present = [v for v in values if v is not None]
        summary["failed_scores"] += len(values) - len(present)
        summary[metric] = round(sum(present) / len(present), 4) if present else None
    return summary


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
