"""The evaluation models moved from chat to the evaluation app with a state-only migration: no row is lost."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("chat", "0004_response_extractive_decision"), ("review", "0001_review_queue_and_replays")]
AFTER = [
    ("chat", "0005_evaluation_moved_out"),
    ("evaluation", "0001_initial"),
    ("review", "0002_alter_reviewitem_evaluation_question"),
]


@pytest.mark.django_db(transaction=True)
def test_rows_and_permissions_survive_the_move():
    executor = MigrationExecutor(connection)
    executor.migrate([*BEFORE, ("evaluation", None)])  # the database as it was before the move
    old = executor.loader.project_state(BEFORE).apps
    question = old.get_model("chat", "EvaluationQuestion").objects.create(
        text="Πόσες ημέρες άδειας;", language="el", expected_answer="25"
    )
    run = old.get_model("chat", "EvaluationRun").objects.create(scope="fast", metrics={"qa": {}})
    content_type = old.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="chat", model="evaluationquestion"
    )[0]
    permission = old.get_model("auth", "Permission").objects.create(
        content_type=content_type, codename="view_evaluationquestion_legacy", name="legacy grant"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from django.contrib.auth.models import Permission

    from evaluation.models import EvaluationQuestion, EvaluationRun

    moved = EvaluationQuestion.objects.get(pk=question.pk)
    assert (moved.text, moved.expected_answer) == ("Πόσες ημέρες άδειας;", "25")
    assert EvaluationRun.objects.get(pk=run.pk).scope == "fast"
    assert Permission.objects.get(pk=permission.pk).content_type.app_label == "evaluation"
