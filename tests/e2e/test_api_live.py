"""The API served by Daphne (ASGI) with the real answering stack: httpx for JWT + SSE, schemathesis for the rest.

``make fuzz`` runs the schemathesis test long (``FUZZ_MAX_EXAMPLES``, ``FUZZ_MAX_TIME``); inside ``make test`` it runs
a quick bounded pass. Either way: zero server errors and every response conforming to docs/openapi.yaml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from chat.models import ChatSession, Feedback, Query, Response
from devstack import localservers
from docintel.models import User
from tests.factories import make_document
from tests.support import index_document, use_stack

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSAGES = [
    "The Kestrel reservoir was completed in 1962 and holds 48 million cubic metres of water.",
    "The reservoir dam is 71 metres high and was designed by the engineer Maria Lindqvist.",
]


@pytest.fixture(scope="module")
def api_daphne(
    django_db_setup, django_db_blocker, llm_url, embedding_url, qdrant_url, server_logs, tmp_path_factory
) -> Iterator[tuple[str, str, str]]:
    """One Daphne for the module (its start, guards warmed, is ~13 s), on the test database and the model servers."""
    import uuid

    prefix = f"api{uuid.uuid4().hex[:10]}"
    media = str(tmp_path_factory.mktemp("api-media"))
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "4",
        "LLM_BASE_URL": llm_url,
        "EMBEDDING_BASE_URL": embedding_url,
        "QDRANT_URL": qdrant_url,
        "QDRANT_COLLECTION_PREFIX": prefix,
        "LLM_MAX_TOKENS": "24",
        "LLM_TEMPERATURE": "0",
        "DOCINTEL_QUESTIONS_PER_MINUTE": "100000",  # the fuzzer should reach the answering path, not the quota
        "DOCINTEL_ANSWERS_CONCURRENT": "1000",
        "MEDIA_ROOT": media,
    }
    port = localservers.free_port()
    server = localservers.daphne_server(port=port, env=env, log_dir=server_logs).start(timeout=120)
    try:
        yield f"http://127.0.0.1:{port}", prefix, media
    finally:
        server.stop()


@pytest.fixture
def live(
    api_daphne: tuple[str, str, str], settings, llm_url, embedding_url, qdrant_url, librarian, reader, finance
) -> str:
    """The module's Daphne, with one indexed document in the collection it reads (this test's access group)."""
    url, prefix, media = api_daphne
    use_stack(settings, llm_url=llm_url, embedding_url=embedding_url, qdrant_url=qdrant_url)
    settings.QDRANT_COLLECTION_PREFIX, settings.MEDIA_ROOT = prefix, media
    doc = make_document(title="Kestrel reservoir facts", groups=[finance], language="en")
    index_document(doc, PASSAGES, pages=[1, 2])
    return url


def _bearer(user: User, *, hours: int = 2) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(hours=hours))  # outlives a long fuzz run
    return f"Bearer {token}"


def test_jwt_and_a_streamed_answer_over_http(live, reader):
    with httpx.Client(base_url=live, timeout=120) as http:
        health = http.get("/api/v1/health")  # every dependency is up here: 200, each probe ok with its latency
        assert health.status_code == 200, health.text
        assert all(check["ok"] and check["latency_ms"] >= 0 for check in health.json()["checks"].values())
        assert {"database", "redis", "qdrant", "llm"} <= set(health.json()["checks"])
        tokens = http.post("/api/v1/auth/token/", json={"email": reader.email, "password": "pw-reader-1"}).json()
        auth = {"Authorization": f"Bearer {tokens['access']}"}
        frames: list[tuple[str, dict[str, Any]]] = []
        with http.stream(
            "POST",
            "/api/v1/query/stream",
            json={"text": "How high is the Kestrel reservoir dam?"},
            headers={**auth, "Accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    frames.append((event, json.loads(line.removeprefix("data: "))))
        names = [name for name, _ in frames]
        assert names[-1] == "answer", frames[-1]
        final = frames[-1][1]
        assert final["status"] in ("completed", "extractive") and final["citations"], final
        assert {c["document_title"] for c in final["citations"]} == {"Kestrel reservoir facts"}
        stored = Response.objects.select_related("query").get(pk=final["response_id"])
        if stored.decision["budget"]["generate"] and stored.decision.get("reason") != "llm_timeout":
            assert names.count("token") >= 2 and set(names[:-1]) == {"token"}  # streamed, not one block
        else:  # the measured speed left no room (a loaded machine): the quotes came at once
            assert names == ["answer"] and final["status"] == "extractive"
        assert stored.query.user == reader and stored.query.channel == "sse" and stored.text == final["text"]

        rated = http.post(f"/api/v1/responses/{stored.pk}/feedback/", json={"rating": 1}, headers=auth)
        assert rated.status_code == 200 and Feedback.objects.filter(response=stored, user=reader).exists()


def test_synchronous_query_with_citations_and_permission_filtered_retrieval(live, reader, outsider):
    with httpx.Client(base_url=live, timeout=120) as http:
        question = {"text": "How high is the Kestrel reservoir dam?"}
        answer = http.post("/api/v1/query", json=question, headers={"Authorization": _bearer(reader)})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] in ("completed", "extractive") and body["citations"][0]["url"].startswith("/documents/")
        assert f'href="{body["citations"][0]["url"]}"' in body["html"].replace("&amp;", "&")  # as the page shows it
        assert Query.objects.get(pk=body["query_id"]).channel == "api"
        nothing = http.post("/api/v1/query", json=question, headers={"Authorization": _bearer(outsider)})
        assert nothing.status_code == 200 and nothing.json()["status"] == "no_answer"
        assert nothing.json()["citations"] == []


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live, librarian, server_logs: Path):
    session = ChatSession.objects.create(user=librarian, title="fuzz")
    Response.objects.create(query=Query.objects.create(user=librarian, session=session, text="q"), text="a")
    report = server_logs / "schemathesis.json"
    report.unlink(missing_ok=True)
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "4")
    max_time = os.environ.get("FUZZ_MAX_TIME", "30")
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{live}/api/v1/schema/",
            "--header",
            f"Authorization: {_bearer(librarian)}",
            "--checks",
            "all",
            "--max-examples",
            max_examples,
            "--max-time",
            max_time,
            "--workers",
            "1",
            "--seed",
            os.environ.get("FUZZ_SEED", "4"),
            "--request-timeout",
            "120",
            "--max-response-time",
            "60",  # an answer from the bundled model on a shared 2-core machine
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=int(max_time) + 600,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("schemathesis_hooks.py"))},
    )
    summary = json.loads(report.read_text()) if report.exists() else {}
    (server_logs / "schemathesis.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    assert summary, "schemathesis wrote no report"
