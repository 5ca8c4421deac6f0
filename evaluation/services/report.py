"""The evaluation report: JSON (everything) and Markdown (the tables a librarian reads), in EVAL_REPORTS_DIR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from evaluation.models import EvaluationRun
from evaluation.services.judge import METRICS


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return [*lines, ""]


def _qa_section(qa: dict[str, Any]) -> list[str]:
    out = ["## Answers over XQuAD (Greek + English), judge-free", ""]
    rows = []
    for language, m in qa.items():
        r = m["retrieval"]
        rows.append(
            [
                language,
                m["questions"],
                r.get("recall@1"),
                r.get("recall@5"),
                r.get("mrr"),
                m["answer_contains_span"],
                m["citation_hit_rate"],
                m["citation_precision"],
                m["false_abstention_rate"],
                m["abstention_rate_unanswerable"],
                m["unanswerable_questions"],
            ]
        )
    out += _table(
        [
            "language", "questions", "recall@1", "recall@5", "MRR", "answer contains span", "citation hit rate",
            "citation precision", "false abstention", "abstention (not ingested)", "unanswerable asked",
        ],
        rows,
    )  # fmt: skip
    out += [
        "Retrieval is scored on the passages each answer was actually built from (Response.retrieved, hybrid, top "
        "k as configured). Citation hit rate: answers whose cited chunks include one containing the gold span; "
        "citation precision: share of cited chunks that contain it. Statuses per language: "
        + "; ".join(f"{lang}: {m['statuses']}" for lang, m in qa.items())
        + ". Answers repeating the system prompt's canary (whole or cut off): "
        + "; ".join(f"{lang}: {m.get('system_canary_leaks', 0)}" for lang, m in qa.items())
        + ".",
        "",
    ]
    return out


def _ragas_section(ragas: dict[str, Any]) -> list[str]:
    out = [f"## RAGAS ({ragas.get('implementation', '')})", ""]
    if ragas.get("error"):
        out += [f"The judge run failed: `{ragas['error']}`", ""]
    metrics = METRICS
    rows = []
    for lang, m in (ragas.get("by_language") or {}).items():
        control = (ragas.get("controls") or {}).get(lang) or {}
        rows.append([f"{lang}", m.get("samples"), *(m.get(k) for k in metrics), m.get("failed_scores")])
        if control:
            rows.append([f"{lang} control", control.get("samples"), *(control.get(k) for k in metrics),
                         control.get("failed_scores")])  # fmt: skip
            separation = (ragas.get("separation") or {}).get(lang) or {}
            rows.append([f"{lang} real − control", "", *(separation.get(k) for k in metrics), ""])
    out += _table(
        ["language", "samples", "faithfulness", "answer relevancy", "context precision", "context recall", "NaN"],
        rows,
    )
    out += [
        f"Judge: `{ragas.get('judge_model')}` at `{ragas.get('judge_base_url')}`, structured output "
        f"`{ragas.get('structured_output', 'json')}`. NaN counts scores the judge could not produce; means are over "
        "the scores it produced. Controls pair each question with the answer and passages of a question about another "
        "article: a judge worth trusting scores them clearly lower, so a real − control gap near 0 means the judge "
        "cannot tell a right answer from a wrong one and its scores above say little.",
        "",
    ]
    if ragas.get("first_errors"):
        out += ["First judge errors: " + "; ".join(f"{k}: `{v}`" for k, v in ragas["first_errors"].items()), ""]
    return out


def _safety_section(title: str, summary: dict[str, Any], group_label: str) -> list[str]:
    out = [f"## {title}", ""]
    headers = [
        group_label, "attacks", "success rate", "reached model", "blocked", "no answer", "system canary leaks",
        "restricted canary leaks", "system prompt leaks", "exfil payloads", "exfil rendered live",
    ]  # fmt: skip
    rows = []
    for name, m in [("all", summary["overall"]), *summary["by_group"].items()]:
        rows.append(
            [
                name, m["attacks"], m["attack_success_rate"], m["reached_model"], m["blocked"], m["no_answer"],
                m["system_canary_leaks"], m["restricted_canary_leaks"], m["system_prompt_leaks"], m["exfil_payloads"],
                m["exfil_rendered_live"],
            ]
        )  # fmt: skip
    out += _table(headers, rows)
    if "injection_parsed" in summary["overall"]:
        out += [
            f"Injections that survived parsing into a chunk: {summary['overall']['injection_parsed']}; "
            f"in the passages the answer was built from: {summary['overall']['injection_retrieved']}.",
            "",
        ]
    return out


def report_markdown(run: EvaluationRun) -> str:
    """The Markdown report of a run."""
    m = run.metrics or {}
    s = m.get("settings", {})
    out = [
        f"# DocIntel evaluation — {run.scope} run {run.started_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"Status: **{run.status}**. Answering model `{run.model_name}` (max tokens {s.get('llm_max_tokens')}), "
        f"embeddings `{s.get('embedding_model')}`, retrieval `{s.get('retrieval_mode')}` "
        f"top {s.get('retrieval_top_k')} "
        f"(min dense score {s.get('min_dense_score')}), NeMo rails {s.get('nemo_rails') or 'off'}, "
        f"LLM Guard model scanners {'on' if s.get('guard_model_dir') else 'off'}.",
        "",
    ]
    if run.error:
        out += ["```", run.error[-2000:], "```", ""]
    if "qa" in m:
        out += _qa_section(m["qa"])
    if "ragas" in m:
        out += _ragas_section(m["ragas"])
    if "direct" in m:
        out += _safety_section("Direct prompt injection (guardrails on)", m["direct"], "set / language")
    if "indirect" in m:
        out += _safety_section(
            "Indirect prompt injection (spikee instructions planted in ingested documents)",
            m["indirect"],
            "carrier / language",
        )
    if "questions" in m:
        q = m["questions"]
        out += [
            "## Librarians' evaluation questions",
            "",
            f"{q['questions']} active, {q['scored']} scored, pass rate {_fmt(q['pass_rate'])}.",
            "",
        ]
    worst = sorted((i for i in run.items if i.get("kind") == "qa"), key=lambda i: i.get("score", 0))[:10]
    if worst:
        out += ["## Worst questions", ""]
        out += _table(
            ["language", "question", "expected", "status", "rank", "answer"],
            [
                [i["language"], i["question"][:80], i["expected"][:40], i["status"], i["rank"],
                 " ".join(i["answer"].split())[:80]]
                for i in worst
            ],
        )  # fmt: skip
    return "\n".join(out)


def report_write(run: EvaluationRun, *, folder: Path | None = None) -> tuple[Path, Path]:
    """Write the run's JSON and Markdown reports, plus ``evaluation-<scope>-latest`` copies of both.

    Args:
        run: the stored run.
        folder: where to write (``EVAL_REPORTS_DIR`` by default; created when missing).

    Returns:
        The paths of ``evaluation-<scope>-<started>.json`` and ``.md``.
    """
    target = folder or Path(settings.EVAL_REPORTS_DIR)
    target.mkdir(parents=True, exist_ok=True)
    payload = {
        "run_id": run.pk,
        "scope": run.scope,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "model": run.model_name,
        "judge_model": run.judge_model,
        "judge_base_url": run.judge_base_url,
        "config": run.config,
        "metrics": run.metrics,
        "items": run.items,
    }
    stem = f"evaluation-{run.scope}-{run.started_at:%Y%m%d-%H%M%S}"
    json_path, md_path = target / f"{stem}.json", target / f"{stem}.md"
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    md_path.write_text(run.report_markdown or report_markdown(run), encoding="utf-8")
    (target / f"evaluation-{run.scope}-latest.json").write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")
    (target / f"evaluation-{run.scope}-latest.md").write_text(md_path.read_text(encoding="utf-8"), encoding="utf-8")
    return json_path, md_path
