"""An ingestion running beside a benchmark, as the worker of ``make run`` runs one: niced, on its own embedding server.

``python -m benchmarks.ingestion_load --seconds N`` (started by ``benchmarks.answering --beside-ingestion``, which
sets ``EMBEDDING_BASE_URL`` to a niced embedding server and ``QDRANT_URL``/``QDRANT_API_KEY`` to the store under
test). Over and over until stopped: the shared corpus's text PDFs and the 40-page Greek Gazette through DocIntel's
conversion (Docling), structure-aware chunking, passage embedding, sparse encoding and the upsert into the store
under test (points no reader's keys match: only librarians', as a document shared with no group), then the delete
of those points. Each cycle prints one line (pages, chunks, seconds) so the caller can report how much ran.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EVAL_DATA_DIR") or REPO.parent / "shared" / "data")
DOCUMENT_ID_BASE = 990_000  # far from the benchmark's own documents


def _sources() -> list[Path]:
    from documents.services.parsing import pdf_inspect

    pdfs = [p for p in sorted((DATA / "corpus" / "pdf").glob("*.pdf")) if not pdf_inspect(p).needs_ocr]
    return [*pdfs, DATA / "greek" / "gazette-law-4706-2020.pdf"]


def main(argv: list[str] | None = None) -> int:
    """Ingest the sources in a loop until killed (or ``--seconds`` pass); one line a document on stdout."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3600.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from documents.services.chunking import chunks_build
    from documents.services.embeddings import embed_passages
    from documents.services.parsing import document_convert, pdf_inspect
    from documents.services.textnorm import sparse_encode
    from documents.services.vectorstore import PointData, points_delete_document, points_replace

    deadline = time.monotonic() + args.seconds
    sources = _sources()
    cycle = 0
    while time.monotonic() < deadline:
        for index, path in enumerate(sources):
            started = time.perf_counter()
            document_id = DOCUMENT_ID_BASE + index
            pages = pdf_inspect(path).page_count or 0
            conversion = document_convert(path=path, mime_type="application/pdf")
            drafts = chunks_build(conversion.document)
            texts = [d.embedding_text() for d in drafts]
            vectors = embed_passages(texts) if texts else []
            points = []
            for ordinal, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
                indices, values = sparse_encode(text)
                points.append(
                    PointData(
                        id=f"00000000-0000-4000-8000-{document_id:06d}{ordinal:06d}",
                        dense=vector,
                        sparse_indices=indices,
                        sparse_values=values,
                        payload={"document_id": document_id, "chunk_id": ordinal, "access_group_ids": []},
                    )
                )
            if points:
                points_replace(document_id=document_id, points=points)
                points_delete_document(document_id=document_id)
            took = time.perf_counter() - started
            print(f"ingested cycle={cycle} pages={pages} chunks={len(points)} seconds={took:.1f}", flush=True)
            if time.monotonic() >= deadline:
                break
        cycle += 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
