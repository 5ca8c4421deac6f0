"""RAGAS scoring worker, run in the evaluation environment (``requirements/eval.txt``), never in the portal process.

Usage: ``python ragas_worker.py SAMPLES.json SCORES.json '{"base_url": ..., "model": ..., ...}'``

Reads samples (``user_input``, ``response``, ``retrieved_contexts``, ``reference``), scores each with ragas 0.4.3's
faithfulness, answer relevancy, context precision (with reference) and context recall against the OpenAI-compatible
judge, and writes ``{"implementation", "rows": [{metric: value or null, "errors": {...}}]}``. A metric the judge
cannot produce (malformed structured output from a small model) is null with its error; the run goes on.
Stand-alone on purpose: no Django, no portal imports.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any


async def _score(samples: list[dict[str, Any]], config: dict[str, Any]) -> list[dict[str, Any]]:
    import instructor
    from openai import AsyncOpenAI
    from ragas.embeddings.base import embedding_factory
    from ragas.llms.base import InstructorLLM
    from ragas.metrics.collections import AnswerRelevancy, ContextPrecisionWithReference, ContextRecall, Faithfulness

    timeout = float(config.get("timeout", 120))
    client = AsyncOpenAI(base_url=config["base_url"], api_key=config.get("api_key") or "not-needed", timeout=timeout)
    # ragas' own llm_factory patches the client in instructor's JSON mode (response_format json_object): any JSON
    # object passes, so a small judge answers with the wrong shape or runs out of tokens mid-object. JSON_SCHEMA mode
    # sends the metric's Pydantic schema as response_format json_schema, which llama.cpp, vLLM and Ollama turn into a
    # grammar: the judge can only produce output of the right shape. "json" keeps ragas' default for other servers.
    mode = {"json_schema": instructor.Mode.JSON_SCHEMA, "json": instructor.Mode.JSON}[
        str(config.get("structured_output", "json_schema"))
    ]
    llm = InstructorLLM(
        client=instructor.from_openai(client, mode=mode),
        model=config["model"],
        provider="openai",
        max_tokens=int(config.get("max_tokens", 512)),
        temperature=0.0,
    )
    embed_client = AsyncOpenAI(
        base_url=config["embedding_base_url"], api_key=config.get("embedding_api_key") or "not-needed", timeout=timeout
    )
    embeddings = embedding_factory("openai", model=config.get("embedding_model", "e5-query"), client=embed_client)
    metrics = {
        "faithfulness": Faithfulness(llm=llm),
        "answer_relevancy": AnswerRelevancy(llm=llm, embeddings=embeddings),
        "context_precision": ContextPrecisionWithReference(llm=llm),
        "context_recall": ContextRecall(llm=llm),
    }
    wanted = config.get("metrics") or list(metrics)
    metrics = {name: metric for name, metric in metrics.items() if name in wanted}
    rows = []
    for sample in samples:
        row: dict[str, Any] = {"errors": {}}
        args = {
            "faithfulness": {
                "user_input": sample["user_input"],
                "response": sample["response"],
                "retrieved_contexts": sample["retrieved_contexts"],
            },
            "answer_relevancy": {"user_input": sample["user_input"], "response": sample["response"]},
            "context_precision": {
                "user_input": sample["user_input"],
                "reference": sample["reference"],
                "retrieved_contexts": sample["retrieved_contexts"],
            },
            "context_recall": {
                "user_input": sample["user_input"],
                "reference": sample["reference"],
                "retrieved_contexts": sample["retrieved_contexts"],
            },
        }
        for name, metric in metrics.items():
            try:
                result = await metric.ascore(**args[name])
                row[name] = float(result.value) if result.value is not None else None
            except Exception as exc:  # noqa: BLE001 - one unscorable sample must not end the run; recorded per row
                row[name] = None
                row["errors"][name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    """Score the samples file into the scores file with the judge configuration given as JSON (see the module).

    Args:
        argv: ``[script, SAMPLES.json, SCORES.json, CONFIG_JSON]``.

    Returns:
        0; a failure raises, and the portal reads the exit code and stderr.
    """
    source, target, config = Path(argv[1]), Path(argv[2]), json.loads(argv[3])
    samples = json.loads(source.read_text(encoding="utf-8"))
    import ragas

    rows = asyncio.run(_score(samples, config))
    payload = {"implementation": f"ragas {ragas.__version__}", "rows": rows}
    target.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
