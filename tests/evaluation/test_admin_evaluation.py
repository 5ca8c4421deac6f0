"""Evaluation in the admin: runs, worst questions and feedback for librarians, nothing for readers.

Evaluation in the admin: runs are browsable by librarians (metrics over time, worst questions linking to the
Response), thumbs-down feedback becomes evaluation questions, readers see none of it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditLog
from chat.models import Feedback, Query, Response
from evaluation.models import EvaluationQuestion, EvaluationRun
from evaluation.services.questions import evaluation_questions_from_feedback

pytestmark = pytest.mark.django_db


def _answer(user, text="What is the boiling point?", answer="It is 90 degrees."):
    query = Query.objects.create(user=user, text=text, language="en", channel="ws")
    return Response.objects.create(query=query, text=answer, status=Response.Status.COMPLETED)


def _run(response_id: int, recall: float) -> EvaluationRun:
    return EvaluationRun.objects.create(
        scope="full",
        status=EvaluationRun.Status.COMPLETED,
        model_name="smollm2",
        metrics={
            "qa": {
                "en": {
                    "retrieval": {"recall@5": recall},
                    "answer_contains_span": 0.5,
                    "citation_hit_rate": 0.5,
                    "abstention_rate_unanswerable": 1.0,
                }
            },
            "direct": {
                "overall": {
                    "attack_success_rate": 0.1,
                    "exfil_rendered_live": 0,
                    "system_canary_leaks": 0,
                    "restricted_canary_leaks": 0,
                },
                "by_group": {},
            },
        },
        items=[
            {
                "kind": "qa",
                "language": "en",
                "question": "Worst question?",
                "expected": "x",
                "status": "failed",
                "rank": None,
                "score": 0.0,
                "response_id": response_id,
            },
            {
                "kind": "qa",
                "language": "en",
                "question": "Good question?",
                "expected": "y",
                "status": "completed",
                "rank": 1,
                "score": 3.0,
                "response_id": None,
            },
        ],
        report_markdown="# DocIntel evaluation",
    )


def test_librarian_browses_runs_with_trend_and_links_to_provenance(client, librarian, reader):
    response = _answer(reader)
    older, newer = _run(response.pk, 0.5), _run(response.pk, 0.75)
    client.force_login(librarian)
    listing = client.get(reverse("admin:evaluation_evaluationrun_changelist"))
    assert listing.status_code == 200
    assert b"0.75" in listing.content and b"0.5" in listing.content
    page = client.get(reverse("admin:evaluation_evaluationrun_change", args=[newer.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("admin:chat_response_change", args=[response.pk]) in html
    assert html.index("Worst question?") < html.index("Good question?")
    assert reverse("admin:evaluation_evaluationrun_change", args=[older.pk]) in html  # metrics over time
    # read-only: no add, no delete
    assert client.get(reverse("admin:evaluation_evaluationrun_add")).status_code == 403


@pytest.mark.parametrize(
    "name", ["admin:evaluation_evaluationrun_changelist", "admin:evaluation_evaluationquestion_changelist"]
)
def test_reader_sees_no_evaluation(client, reader, name):
    client.force_login(reader)
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/admin/login/?next={url}"  # not staff


def test_feedback_action_creates_questions_once(client, librarian, reader, outsider):
    bad = Feedback.objects.create(response=_answer(reader), user=reader, rating=-1, comment="wrong number")
    good = Feedback.objects.create(response=_answer(outsider, "Who?"), user=outsider, rating=1)
    client.force_login(librarian)
    url = reverse("admin:chat_feedback_changelist")
    data = {"action": "make_evaluation_questions", "_selected_action": [bad.pk, good.pk]}
    assert client.post(url, data).status_code == 302
    question = EvaluationQuestion.objects.get()
    assert (question.text, question.ask_as, question.source_feedback, question.created_by) == (
        "What is the boiling point?", reader, bad, librarian,
    )  # fmt: skip
    assert question.source_response == bad.response and "wrong number" in question.notes
    assert AuditLog.objects.filter(action="evaluation_question_created").count() == 1
    client.post(url, data)  # again: nothing new
    assert EvaluationQuestion.objects.count() == 1
    # the librarian can then write the expected answer
    change = reverse("admin:evaluation_evaluationquestion_change", args=[question.pk])
    assert client.get(change).status_code == 200


def test_feedback_service_skips_thumbs_up_and_writes_nothing(reader):
    good = Feedback.objects.create(response=_answer(reader), user=reader, rating=1)
    assert evaluation_questions_from_feedback(feedback=[good], actor=None) == (0, 1)
    assert not EvaluationQuestion.objects.exists() and not AuditLog.objects.exists()
