"""Replays: a stored answer asked again against the current index, stored beside it, never shown to readers.

Embeddings and the vector store are the real local servers; the model is down (nothing listens), so answers are the
deterministic quoted ones; the last test replays on the real SmolLM2.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from audit.models import AuditLog
from chat.models import ChatSession, Query, Response
from chat.services.answering import answer_sync
from docintel.context import ActorContext
from documents.models import Document
from review.models import Replay
from review.services.replay import replay_execute, replay_request
from tests.factories import make_document
from tests.support import index_document, use_stack

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CASES: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Kestrel reservoir facts",
        "v1": ["The Kestrel reservoir dam is 71 metres high.", "Swimming in the Kestrel reservoir is forbidden."],
        "v2": ["The Kestrel reservoir dam is 81 metres high since the 2020 works.", "Swimming is allowed in summer."],
        "question": "How high is the Kestrel reservoir dam?",
        "old": "71 metres",
        "new": "81 metres",
    },
    "el": {
        "title": "Φράγμα Κέστρελ",
        "v1": [
            "Το φράγμα του ταμιευτήρα Κέστρελ έχει ύψος εβδομήντα ένα μέτρα.",
            "Απαγορεύεται το κολύμπι στον ταμιευτήρα Κέστρελ.",
        ],
        "v2": [
            "Το φράγμα του ταμιευτήρα Κέστρελ έχει ύψος ογδόντα ένα μέτρα μετά τα έργα του 2020.",
            "Το κολύμπι επιτρέπεται το καλοκαίρι.",
        ],
        "question": "Πόσο ύψος έχει το φράγμα του ταμιευτήρα Κέστρελ;",
        "old": "εβδομήντα ένα",
        "new": "ογδόντα ένα",
    },
}


@pytest.fixture
def stack(settings, embedding_url, qdrant_url):
    use_stack(settings, llm_url="http://127.0.0.1:9/v1", embedding_url=embedding_url, qdrant_url=qdrant_url)
    settings.ANSWER_FIRST_TOKEN_TARGET = 2.0
    settings.LLM_TIMEOUT = 4.0
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "replay"}}
    from chat.services.answering.budget import speed_forget

    speed_forget()
    return settings


@pytest.fixture
def eager():
    """Tasks run where they are enqueued (after commit), as a worker would run them."""
    from docintel.celery import tasks_inline

    with tasks_inline():
        yield


@pytest.fixture(params=["en", "el"])
def case(request) -> dict[str, Any]:
    return CASES[request.param]


def _stored(reader, finance, case, **doc_fields):
    v1 = make_document(title=case["title"], groups=[finance], language="en", **doc_fields)
    index_document(v1, case["v1"], pages=[1, 2])
    session = ChatSession.objects.create(user=reader)
    result = answer_sync(user=reader, text=case["question"], session=session)
    assert result.status == "extractive" and case["old"] in result.text, result
    return v1, Response.objects.select_related("query").get(pk=result.response_id)


def _reader_sees(reader) -> tuple[int, int, list[str]]:
    """What a reader can reach: their Queries, Responses, and the questions in their sessions' API history."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(reader).access_token}")
    questions = []
    for session in client.get("/api/v1/sessions/").json():
        questions += [h["question"] for h in client.get(f"/api/v1/sessions/{session['id']}/").json()["history"]]
    return Query.objects.count(), Response.objects.count(), questions


def test_replay_after_a_version_change_shows_the_difference(
    stack, eager, monkeypatch, reader, finance, librarian, case
):
    from documents.services import versions

    v1, stored = _stored(reader, finance, case)
    # v2 ingests beside v1 and becomes current in one step; the superseded version's points go (the retried task)
    v2 = make_document(
        title=case["title"], groups=[finance], language="en", version_of=v1, version=2, is_current=False,
        status=Document.Status.PROCESSING,
    )  # fmt: skip
    index_document(v2, case["v2"], pages=[1, 2])
    from documents import tasks

    # the superseded version's points go inline (the task's own call), once the switch commits
    monkeypatch.setattr(tasks.delete_version_points, "delay", lambda pk: versions.version_points_delete(document_id=pk))
    assert versions.version_complete(document_id=v2.pk) is True
    before = _reader_sees(reader)

    replay = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    replay.refresh_from_db()
    assert replay.status == Replay.Status.DONE, (replay.error_code, replay.error_message)
    assert replay.question == case["question"] and replay.answer_status == "extractive"
    assert case["new"] in replay.text and case["old"] not in replay.text
    assert {c["document_id"] for c in replay.citations} == {v2.pk}
    assert replay.retrieved and all(r["score"] is not None for r in replay.retrieved)
    assert replay.model_name == stack.LLM_MODEL and replay.decision["status"] == "extractive"
    assert replay.latency_ms["total_ms"] > 0

    changes = replay.changes
    assert changes["answer_changed"] is True
    assert [(d["document_id"], d["state"], d["version"]) for d in changes["documents"]] == [(v1.pk, "superseded", 1)]
    stored_ids = {r["chunk_id"] for r in stored.retrieved}
    assert {r["chunk_id"] for r in changes["passages_removed"]} == stored_ids
    assert {r["why"] for r in changes["passages_removed"]} == {"document_superseded"}
    assert {r["document_id"] for r in changes["passages_added"]} == {v2.pk}
    assert changes["citations_removed"] == sorted(c["chunk_id"] for c in stored.citations)
    assert any("superseded" in line for line in changes["summary"])
    assert changes["model"]["changed"] is False

    # readers never see it: no Query, no Response, nothing in their history
    assert _reader_sees(reader) == before
    requested = AuditLog.objects.get(action="response_replay_requested")
    assert requested.actor == librarian and requested.target_id == str(stored.pk)
    done = AuditLog.objects.get(action="response_replayed")
    assert done.actor == librarian and done.details["replay_id"] == replay.pk and done.details["status"] == "done"
    assert not AuditLog.objects.filter(action="guardrail_blocked").exists()

    from django.test import Client

    client = Client()
    client.force_login(librarian)
    page = client.get(reverse("admin:review_replay_change", args=[replay.pk])).content.decode()
    assert "What changed" in page and "superseded" in page
    assert case["old"] in page and case["new"] in page  # stored and new answers side by side
    assert 'id="replay-stored"' in page and 'id="replay-new"' in page and 'http-equiv="refresh"' not in page
    assert "rv-state-not-current" in page  # the stored passages belong to a superseded version


def test_replay_button_on_the_response_page_runs_it_and_shows_a_model_change(stack, eager, reader, finance, librarian):
    from django.test import Client

    case = CASES["el"]
    stack.LLM_MODEL = "model-then"
    _, stored = _stored(reader, finance, case)
    stack.LLM_MODEL = "model-now"
    client = Client()
    client.force_login(librarian)
    page = client.get(reverse("admin:chat_response_change", args=[stored.pk])).content.decode()
    start = reverse("admin:review_replay_start", args=[stored.pk])
    assert f'action="{start}"' in page and "Replay against the current index" in page
    posted = client.post(start)
    replay = Replay.objects.get()
    assert posted.status_code == 302 and posted["Location"] == reverse("admin:review_replay_change", args=[replay.pk])
    assert replay.status == Replay.Status.DONE and replay.requested_by == librarian
    assert replay.changes["model"] == {"stored": "model-then", "new": "model-now", "changed": True}
    assert replay.changes["answer_changed"] is False and replay.changes["passages_removed"] == []
    assert len(replay.changes["passages_kept"]) == len(stored.retrieved)
    shown = client.get(posted["Location"]).content.decode()
    assert "Model changed: model-then → model-now." in shown
    listed = client.get(reverse("admin:chat_response_change", args=[stored.pk])).content.decode()
    assert reverse("admin:review_replay_change", args=[replay.pk]) in listed


def test_readers_can_neither_start_nor_see_a_replay(stack, eager, reader, outsider, finance, librarian):
    from django.test import Client

    _, stored = _stored(reader, finance, CASES["en"])
    replay = Replay.objects.create(response=stored, question=stored.query.text, requested_by=librarian)
    client = Client()
    for user in (reader, outsider):
        client.force_login(user)
        for url in (reverse("admin:review_replay_change", args=[replay.pk]), reverse("admin:review_replay_changelist")):
            page = client.get(url)
            assert page.status_code == 302 and page["Location"].startswith(reverse("admin:login"))
        posted = client.post(reverse("admin:review_replay_start", args=[stored.pk]))
        assert posted.status_code == 302 and posted["Location"].startswith(reverse("admin:login"))
    assert Replay.objects.count() == 1 and not AuditLog.objects.filter(action="response_replay_requested").exists()


def test_replay_after_the_document_was_deleted_and_for_a_reader_who_lost_access(
    stack, eager, reader, finance, librarian, case
):
    v1, stored = _stored(reader, finance, case)
    Document.objects.filter(pk=v1.pk).update(deleted_at=timezone.now())
    deleted = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    deleted.refresh_from_db()
    assert deleted.status == "done" and deleted.answer_status == "no_answer" and deleted.citations == []
    assert {r["why"] for r in deleted.changes["passages_removed"]} == {"document_deleted"}
    assert deleted.changes["documents"][0]["state"] == "deleted"
    assert "Status changed: extractive → no_answer." in deleted.changes["summary"]

    Document.objects.filter(pk=v1.pk).update(deleted_at=None)
    reader.groups.remove(finance)  # the same user, their scope as it is now
    scoped = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    scoped.refresh_from_db()
    assert scoped.answer_status == "no_answer" and scoped.retrieved == []
    assert {r["why"] for r in scoped.changes["passages_removed"]} == {"not_visible_to_user"}


def test_a_passage_quarantined_from_the_review_queue_is_gone_from_the_replay(
    stack, eager, reader, finance, librarian, case
):
    from chat.services.sessions import feedback_submit
    from review.models import ReviewItem
    from review.services.queue import review_item_quarantine

    _, stored = _stored(reader, finance, case)
    feedback_submit(user=reader, response_id=stored.pk, rating=-1, comment=case["old"])
    cited = stored.citations[0]["chunk_id"]
    review_item_quarantine(
        item=ReviewItem.objects.get(), chunk_id=cited, ctx=ActorContext.for_user(librarian), reason="outdated"
    )
    replay = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    replay.refresh_from_db()
    assert replay.status == "done" and cited not in {r["chunk_id"] for r in replay.retrieved}
    assert cited not in {c["chunk_id"] for c in replay.citations}
    removed = {r["chunk_id"]: r["why"] for r in replay.changes["passages_removed"]}
    assert removed[cited] == "passage_quarantined"


def test_a_replay_pending_or_running_is_not_queued_twice(stack, reader, finance, librarian, monkeypatch):
    from django.test import Client

    from review.services import replay as service

    monkeypatch.setattr(service, "_enqueue", lambda pk: None)  # no worker: it stays pending
    _, stored = _stored(reader, finance, CASES["en"])
    first = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    assert replay_request(response=stored, ctx=ActorContext.for_user(librarian)).pk == first.pk
    assert Replay.objects.get().status == "pending"
    client = Client()
    client.force_login(librarian)
    page = client.get(reverse("admin:review_replay_change", args=[first.pk])).content.decode()
    assert 'id="replay-pending"' in page and 'http-equiv="refresh"' in page  # the page refreshes until done
    done = replay_execute(replay_id=first.pk)
    assert done is not None and (done.pk, done.status) == (first.pk, "done")
    assert replay_execute(replay_id=first.pk) is None  # done: a redelivered task does nothing
    assert AuditLog.objects.filter(action="response_replayed").count() == 1


def test_a_retrieval_outage_is_retried_then_fails_with_its_code(stack, reader, finance, librarian, monkeypatch):
    from docintel.errors import EmbeddingUnavailable
    from review import tasks
    from review.services import replay as service

    monkeypatch.setattr(service, "_enqueue", lambda pk: None)
    _, stored = _stored(reader, finance, CASES["en"])
    replay = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    stack.EMBEDDING_BASE_URL = "http://127.0.0.1:9/v1"
    with pytest.raises(EmbeddingUnavailable):
        replay_execute(replay_id=replay.pk, final_attempt=False)
    replay.refresh_from_db()
    assert replay.status == "pending"  # the task retries it
    assert tasks.replay_run.apply(args=(replay.pk,), retries=tasks.MAX_RETRIES).result == "failed"
    replay.refresh_from_db()
    assert (replay.status, replay.error_code) == ("failed", "embedding_unavailable") and replay.finished_at
    row = AuditLog.objects.get(action="response_replayed")
    assert row.details["error_code"] == "embedding_unavailable"


def test_a_replay_for_a_deactivated_user_fails_with_a_code(stack, reader, finance, librarian, monkeypatch):
    from review.services import replay as service

    monkeypatch.setattr(service, "_enqueue", lambda pk: None)
    _, stored = _stored(reader, finance, CASES["el"])
    replay = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    type(reader).objects.filter(pk=reader.pk).update(is_active=False)
    done = replay_execute(replay_id=replay.pk)
    assert done is not None and (done.status, done.error_code) == ("failed", "not_authenticated")
    assert Query.objects.count() == 1


@pytest.mark.e2e
def test_replay_on_the_real_model(settings, llm_url, embedding_url, qdrant_url, eager, reader, finance, librarian):
    use_stack(settings, llm_url=llm_url, embedding_url=embedding_url, qdrant_url=qdrant_url)
    case = CASES["en"]
    doc = make_document(title=case["title"], groups=[finance], language="en")
    index_document(doc, case["v1"], pages=[1, 2])
    result = answer_sync(user=reader, text=case["question"])
    assert result.status in ("completed", "extractive")
    stored = Response.objects.get(pk=result.response_id)
    replay = replay_request(response=stored, ctx=ActorContext.for_user(librarian))
    replay.refresh_from_db()
    assert replay.status == "done" and replay.answer_status in ("completed", "extractive")
    assert replay.model_name == stored.model_name and not replay.changes["model"]["changed"]
    assert replay.decision["budget"]["tokenizer"] == "server"  # planned and generated like a reader's answer
    assert {c["document_id"] for c in replay.citations} == {doc.pk}
    assert {r["chunk_id"] for r in replay.changes["passages_kept"]} == {r["chunk_id"] for r in stored.retrieved}
    assert Query.objects.count() == 1 and Response.objects.count() == 1
