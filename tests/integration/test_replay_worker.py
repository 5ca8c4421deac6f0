"""A replay runs in a real Celery worker: the admin button queues it, the page shows it pending, then done."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Query, Response
from chat.services.answering import answer_sync
from review.models import Replay
from tests.factories import make_document
from tests.integration.conftest import worker_env
from tests.support import index_document, use_stack

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def replay_worker(
    django_db_setup, django_db_blocker, qdrant_url, embedding_url, ingest_media, server_logs
) -> Iterator[dict[str, str]]:
    """A worker on a private queue and collection prefix; the model is down there too (quoted answers)."""
    from devstack import localservers

    names = {"queue": f"replay-test-{uuid.uuid4().hex[:8]}", "prefix": f"r{uuid.uuid4().hex[:10]}"}
    env = worker_env(
        queue=names["queue"], media=ingest_media, qdrant_url=qdrant_url, embedding_url=embedding_url,
        LLM_BASE_URL="http://127.0.0.1:9/v1", QDRANT_COLLECTION_PREFIX=names["prefix"],
        ANSWER_FIRST_TOKEN_TARGET="2", LLM_TIMEOUT="4",
    )  # fmt: skip
    proc = localservers.celery_worker(env=env, log_dir=server_logs, queues=names["queue"], name="replay-worker")
    proc.start(timeout=120)
    yield names
    proc.stop()


@pytest.fixture
def worker_settings(settings, replay_worker, embedding_url, qdrant_url) -> Iterator[Any]:
    from docintel.celery import app

    use_stack(settings, llm_url="http://127.0.0.1:9/v1", embedding_url=embedding_url, qdrant_url=qdrant_url)
    settings.QDRANT_COLLECTION_PREFIX = replay_worker["prefix"]
    settings.ANSWER_FIRST_TOKEN_TARGET = 2.0
    settings.LLM_TIMEOUT = 4.0
    settings.CELERY_TASK_DEFAULT_QUEUE = replay_worker["queue"]
    before = app.conf.task_default_queue
    app.conf.task_default_queue = replay_worker["queue"]
    yield settings
    app.conf.task_default_queue = before


@pytest.mark.parametrize(
    ("question", "passages"),
    [
        ("How high is the Kestrel reservoir dam?", ["The Kestrel reservoir dam is 71 metres high."]),
        ("Πόσο ύψος έχει το φράγμα Κέστρελ;", ["Το φράγμα Κέστρελ έχει ύψος εβδομήντα ένα μέτρα."]),
    ],
    ids=["en", "el"],
)
def test_the_button_queues_the_replay_and_the_worker_runs_it(
    worker_settings, reader, finance, librarian, question, passages
):
    doc = make_document(title="Kestrel", groups=[finance])
    index_document(doc, passages)
    result = answer_sync(user=reader, text=question)
    assert result.status == "extractive", result
    client = Client()
    client.force_login(librarian)
    posted = client.post(reverse("admin:review_replay_start", args=[result.response_id]))
    replay = Replay.objects.get()
    assert posted["Location"] == reverse("admin:review_replay_change", args=[replay.pk])
    page = client.get(posted["Location"]).content.decode()
    assert 'id="replay-pending"' in page or 'id="replay-changes"' in page
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        replay.refresh_from_db()
        if replay.is_finished:
            break
        time.sleep(0.5)
    assert replay.status == Replay.Status.DONE, (replay.status, replay.error_code, replay.error_message)
    assert replay.attempts == 1 and replay.answer_status == "extractive" and passages[0] in replay.text
    assert replay.changes["summary"] == ["Nothing changed: same passages, model, status and answer."]
    page = client.get(posted["Location"]).content.decode()
    assert 'id="replay-changes"' in page and "Nothing changed" in page and 'http-equiv="refresh"' not in page
    assert Query.objects.count() == 1 and Response.objects.count() == 1
