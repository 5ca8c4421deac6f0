"""The review queue: a thumbs-down opens exactly one item; each librarian action does what it says, audited."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from audit.models import AuditLog
from chat.models import Feedback
from chat.services.sessions import feedback_submit
from docintel.context import ActorContext
from documents.models import Chunk, Document
from evaluation.models import EvaluationQuestion
from evaluation.services.questions import evaluation_questions_from_feedback
from review.models import ReviewItem
from tests.factories import make_chunk, make_document
from tests.review.conftest import EL, EN, make_answer

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def _actions(item: ReviewItem) -> list[str]:
    item.refresh_from_db()
    return [a["action"] for a in item.actions]


# --- Feedback in -----------------------------------------------------------------------------------------------------
def test_a_thumbs_down_from_the_reader_page_opens_one_item_with_question_answer_passages_and_scores(
    client, reader, finance, case
):
    response = make_answer(reader, case, groups=[finance])
    client.force_login(reader)
    url = reverse("chat:feedback", args=[response.pk])
    sent = client.post(url, {"rating": "-1", "comment": case["comment"]}, HTTP_ACCEPT="application/json")
    assert sent.status_code == 200, sent.content
    item = ReviewItem.objects.get()
    assert item.response == response and item.status == ReviewItem.Status.OPEN
    assert (item.question, item.answer, item.comment) == (case["question"], case["answer"], case["comment"])
    assert item.answer_status == "completed" and item.times_reported == 1
    assert item.feedback == Feedback.objects.get(response=response)
    first, second = item.passages
    assert (first["cited"], first["number"], first["score"], first["dense_score"]) == (True, 1, 0.91, 0.88)
    assert first["text"] == case["passages"][0] and first["document_title"] == case["title"]
    assert (second["cited"], second["score"], second["text"]) == (False, 0.42, case["passages"][1])
    assert [p["chunk_id"] for p in item.cited_passages()] == [response.citations[0]["chunk_id"]]
    row = AuditLog.objects.get(action="review_item_opened")
    assert row.actor == reader and row.target_id == str(item.pk)
    assert row.details == {"response_id": response.pk, "feedback_id": item.feedback_id}


def test_a_second_thumbs_down_or_a_new_comment_updates_the_same_item(reader, case):
    response = make_answer(reader, case)
    feedback_submit(user=reader, response_id=response.pk, rating=-1)
    feedback_submit(user=reader, response_id=response.pk, rating=-1)  # the same complaint sent again
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=case["comment"])
    item = ReviewItem.objects.get()
    assert ReviewItem.objects.count() == 1
    assert (item.status, item.comment, item.times_reported) == ("open", case["comment"], 3)
    assert _actions(item) == ["opened", "updated", "updated"]
    assert AuditLog.objects.filter(action="review_item_updated").count() == 2


def test_thumbs_down_over_the_api_opens_the_item_too(reader, case):
    response = make_answer(reader, case)
    sent = _api(reader).post(f"/api/v1/responses/{response.pk}/feedback/", {"rating": -1}, format="json")
    assert sent.status_code == 200, sent.content
    assert ReviewItem.objects.get().response == response


def test_a_thumbs_up_opens_nothing(reader):
    response = make_answer(reader, EN)
    feedback_submit(user=reader, response_id=response.pk, rating=1, comment="clear")
    assert not ReviewItem.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="review_").exists()


def test_a_thumbs_up_after_a_thumbs_down_withdraws_the_open_item_and_a_new_thumbs_down_reopens_it(reader, case):
    response = make_answer(reader, case)
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=case["comment"])
    feedback_submit(user=reader, response_id=response.pk, rating=1)
    item = ReviewItem.objects.get()
    assert item.status == ReviewItem.Status.WITHDRAWN
    assert not ReviewItem.objects.open().exists()
    assert AuditLog.objects.filter(action="review_item_withdrawn", actor=reader).count() == 1
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=case["comment"])
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN and ReviewItem.objects.count() == 1
    assert _actions(item) == ["opened", "withdrawn", "reopened"]


def test_a_resolved_item_stays_resolved_for_the_same_complaint_and_reopens_for_a_new_comment(reader, librarian):
    from review.services.queue import review_item_resolve

    response = make_answer(reader, EL)
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=EL["comment"])
    item = review_item_resolve(
        item=ReviewItem.objects.get(), ctx=ActorContext.for_user(librarian), note="Διορθώθηκε το έγγραφο."
    )
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=EL["comment"])
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.RESOLVED and item.times_reported == 2
    feedback_submit(user=reader, response_id=response.pk, rating=1)  # a thumbs-up leaves a resolved item alone
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.RESOLVED
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment="Ακόμα λάθος")
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN and item.resolved_at is None and item.comment == "Ακόμα λάθος"
    assert ReviewItem.objects.count() == 1


def test_refused_feedback_opens_no_item(client, reader, outsider):
    response = make_answer(reader, EN)
    client.force_login(outsider)
    url = reverse("chat:feedback", args=[response.pk])
    assert client.post(url, {"rating": "-1"}, HTTP_ACCEPT="application/json").status_code == 404
    client.force_login(reader)
    assert client.post(url, {"rating": "-5"}, HTTP_ACCEPT="application/json").status_code == 400
    assert client.post(url, {"rating": "-1", "comment": "x" * 2001}, HTTP_ACCEPT="application/json").status_code == 400
    assert not ReviewItem.objects.exists() and not Feedback.objects.exists()


# --- The admin: librarians only --------------------------------------------------------------------------------------
@pytest.fixture
def item(reader, finance, case) -> ReviewItem:
    response = make_answer(reader, case, groups=[finance])
    feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=case["comment"])
    return ReviewItem.objects.get()


def _do(client, item: ReviewItem, action: str, **data):
    return client.post(reverse("admin:review_reviewitem_action", args=[item.pk, action]), data, follow=True)


def _queries(client, url: str) -> tuple[int, str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        page = client.get(url)
    assert page.status_code == 200
    return len(captured), page.content.decode()


def test_librarian_sees_the_queue_the_item_and_the_open_count_on_the_admin_index(client, librarian, reader, item, case):
    client.force_login(librarian)
    index = client.get(reverse("admin:index")).content.decode()
    assert "1 open review item" in index and reverse("admin:review_reviewitem_changelist") in index
    one, listing = _queries(client, reverse("admin:review_reviewitem_changelist"))
    assert case["question"] in listing
    for other in (EN, EL):
        feedback_submit(user=reader, response_id=make_answer(reader, other).pk, rating=-1)
    three, _ = _queries(client, reverse("admin:review_reviewitem_changelist"))
    assert three == one  # no query per row
    assert "3 open review items" in client.get(reverse("admin:index")).content.decode()
    page = client.get(reverse("admin:review_reviewitem_change", args=[item.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    for text in (case["question"], case["answer"], case["comment"], case["passages"][0], case["passages"][1]):
        assert text in html
    assert "0.91" in html and "0.42" in html and "[1]" in html  # scores and the cited number
    for form in ("review-resolve", "review-reingest", "review-quarantine", "review-evaluate"):
        assert f'id="{form}"' in html
    stored = client.get(reverse("admin:chat_response_change", args=[item.response_id])).content.decode()
    assert reverse("admin:review_reviewitem_change", args=[item.pk]) in stored  # the answer links to its item


def test_the_count_leaves_closed_items_out(client, librarian, item, reader):
    feedback_submit(user=reader, response_id=item.response_id, rating=1)
    client.force_login(librarian)
    assert "0 open review items" in client.get(reverse("admin:index")).content.decode()


def test_readers_never_reach_the_queue(client, reader, outsider, item):
    for user in (reader, outsider):
        client.force_login(user)
        for url in (
            reverse("admin:index"),
            reverse("admin:review_reviewitem_changelist"),
            reverse("admin:review_reviewitem_change", args=[item.pk]),
        ):
            page = client.get(url)
            assert page.status_code == 302 and page.url.startswith(reverse("admin:login")), url
        posted = _do(client, item, "resolve", note="by a reader")
        assert posted.redirect_chain[0][0].startswith(reverse("admin:login"))
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN and not AuditLog.objects.filter(action="review_item_resolved")


def test_staff_without_the_librarian_role_sees_no_queue(client, roles, item):
    from docintel.models import User

    staff = User.objects.create_user("staff@example.com", "pw-staff-1", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:review_reviewitem_changelist")).status_code == 403
    assert "open review item" not in client.get(reverse("admin:index")).content.decode()
    posted = client.post(reverse("admin:review_reviewitem_action", args=[item.pk, "resolve"]), {"note": "x"})
    assert posted.status_code == 403


# --- Actions ---------------------------------------------------------------------------------------------------------
def test_resolve_with_a_note(client, librarian, item):
    client.force_login(librarian)
    empty = _do(client, item, "resolve", note="   ")
    assert "invalid_input" in empty.content.decode() or "required" in empty.content.decode()
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN
    note = "Ο ταμιευτήρας ανακατασκευάστηκε· the document is outdated."
    done = _do(client, item, "resolve", note=note)
    assert done.status_code == 200 and "resolved" in done.content.decode()
    item.refresh_from_db()
    assert (item.status, item.resolution_note, item.resolved_by) == ("resolved", note, librarian)
    assert item.resolved_at is not None and _actions(item)[-1] == "resolved"
    row = AuditLog.objects.get(action="review_item_resolved")
    assert row.actor == librarian and row.details == {"note": note} and row.target_id == str(item.pk)
    again = _do(client, item, "resolve", note="twice")
    assert "conflict" in again.content.decode()
    assert AuditLog.objects.filter(action="review_item_resolved").count() == 1
    assert "0 open review items" in client.get(reverse("admin:index")).content.decode()


def test_reingest_the_cited_document(client, librarian, item, django_capture_on_commit_callbacks):
    client.force_login(librarian)
    document_id = item.passages[0]["document_id"]
    Document.objects.filter(pk=document_id).update(status=Document.Status.COMPLETED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = _do(client, item, "reingest", document_id=document_id)
    assert done.status_code == 200 and "queued for ingestion again" in done.content.decode()
    document = Document.objects.get(pk=document_id)
    assert (document.status, document.stage, document.progress) == ("queued", "uploaded", 0)
    assert len(callbacks) == 1  # the ingestion task, enqueued after commit
    assert AuditLog.objects.get(action="document_reingest_requested").target_id == str(document_id)
    row = AuditLog.objects.get(action="review_document_reingested")
    assert row.actor == librarian and row.details == {"document_id": document_id}
    assert _actions(item)[-1] == "document_reingested"


def test_reingest_refuses_a_document_the_answer_did_not_use(client, librarian, item):
    other = make_document(title="Unrelated")
    client.force_login(librarian)
    refused = _do(client, item, "reingest", document_id=other.pk)
    assert "document_not_found" in refused.content.decode()
    garbage = _do(client, item, "reingest", document_id="abc")
    assert "invalid_input" in garbage.content.decode()
    other.refresh_from_db()
    assert other.status == Document.Status.COMPLETED
    assert not AuditLog.objects.filter(action__in=["document_reingest_requested", "review_document_reingested"])


def test_quarantine_a_passage(client, librarian, item, django_capture_on_commit_callbacks):
    client.force_login(librarian)
    chunk_id = item.passages[0]["chunk_id"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        done = _do(client, item, "quarantine", chunk_id=chunk_id, reason="outdated height")
    assert done.status_code == 200 and "quarantined" in done.content.decode()
    chunk = Chunk.objects.get(pk=chunk_id)
    assert chunk.quarantined and chunk.injection_rule == f"review #{item.pk}: outdated height"
    assert not Chunk.objects.retrievable().filter(pk=chunk_id).exists()
    assert len(callbacks) == 1  # the vector's payload follows, after commit
    assert AuditLog.objects.get(action="chunk_quarantined").target_id == str(chunk_id)
    row = AuditLog.objects.get(action="review_passage_quarantined")
    assert row.actor == librarian and row.details["chunk_id"] == chunk_id
    page = client.get(reverse("admin:review_reviewitem_change", args=[item.pk])).content.decode()
    assert "rv-state-quarantined" in page


def test_quarantine_refuses_a_passage_of_another_answer(client, librarian, item):
    foreign = make_chunk(make_document(title="Other"), 0, "Another passage.")
    client.force_login(librarian)
    refused = _do(client, item, "quarantine", chunk_id=foreign.pk)
    assert "not_found" in refused.content.decode()
    foreign.refresh_from_db()
    assert not foreign.quarantined and not AuditLog.objects.filter(action="chunk_quarantined")


def test_turn_into_an_evaluation_question_with_the_expected_answer(client, librarian, item, reader, case):
    client.force_login(librarian)
    missing = _do(client, item, "evaluate", expected_answer="")
    assert "invalid_input" in missing.content.decode() and not EvaluationQuestion.objects.exists()
    expected = "81" if case["language"] == "en" else "ογδόντα ένα"
    done = _do(client, item, "evaluate", expected_answer=expected)
    assert done.status_code == 200 and "Evaluation question saved" in done.content.decode()
    question = EvaluationQuestion.objects.get()
    assert (question.text, question.expected_answer, question.expect_no_answer) == (case["question"], expected, False)
    assert question.ask_as == reader and question.source_feedback_id == item.feedback_id
    assert question.source_response_id == item.response_id and question.created_by == librarian
    assert question.language == case["language"] and question.active
    row = AuditLog.objects.get(action="review_evaluation_question_created")
    assert row.actor == librarian and row.target_id == str(question.pk)
    _do(client, item, "evaluate", expected_answer="", expect_no_answer="on")  # changed mind: not in the documents
    question.refresh_from_db()
    assert EvaluationQuestion.objects.count() == 1 and question.expect_no_answer and question.expected_answer == ""
    item.refresh_from_db()
    assert item.evaluation_question == question
    assert AuditLog.objects.filter(action="review_evaluation_question_updated").count() == 1


def test_an_evaluation_question_made_from_the_feedback_list_gets_the_expected_answer(librarian, item):
    from review.services.queue import review_item_to_evaluation

    evaluation_questions_from_feedback(feedback=[item.feedback], actor=librarian)
    made = EvaluationQuestion.objects.get()
    question = review_item_to_evaluation(item=item, expected_answer="81 metres", ctx=ActorContext.for_user(librarian))
    assert question.pk == made.pk and EvaluationQuestion.objects.count() == 1
    assert question.expected_answer == "81 metres"


def test_unknown_action_and_get_are_refused_without_a_change(client, librarian, item):
    client.force_login(librarian)
    assert client.get(reverse("admin:review_reviewitem_action", args=[item.pk, "resolve"])).status_code == 405
    unknown = _do(client, item, "delete_everything")
    assert unknown.status_code == 200 and "Unknown review action" in unknown.content.decode()
    missing = client.post(reverse("admin:review_reviewitem_action", args=[987654, "resolve"]), {"note": "x"})
    assert missing.status_code == 404
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.OPEN and _actions(item) == ["opened"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_thumbs_down_open_exactly_one_item(reader, case):
    """Two sockets of the same reader send their thumbs-down at once: one item (the feedback row serialises them)."""
    import threading

    from django.db import connection

    response = make_answer(reader, case)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def send(comment: str) -> None:
        try:
            barrier.wait()
            feedback_submit(user=reader, response_id=response.pk, rating=-1, comment=comment)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(f"{case['comment']} {n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    item = ReviewItem.objects.get()
    assert item.times_reported == 4 and Feedback.objects.count() == 1
    assert AuditLog.objects.filter(action="review_item_opened").count() == 1
