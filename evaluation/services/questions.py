"""Turn readers' thumbs-down feedback into evaluation questions that the next run asks again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from chat.models import Feedback
from evaluation.models import EvaluationQuestion


@transaction.atomic
def evaluation_questions_from_feedback(*, feedback: Iterable[Feedback], actor: Any) -> tuple[int, int]:
    """Create one :class:`EvaluationQuestion` per thumbs-down feedback (idempotent: one question per feedback).

    The question is asked again as the reader who gave the feedback (their documents); its expected answer is empty
    until a librarian writes it, so the run reports the new answer for review and scores it once it is set.

    Args:
        feedback: the selected feedback rows (thumbs-up rows are ignored).
        actor: the librarian who asked for it.

    Returns:
        (questions created, rows skipped: thumbs-up or already converted).
    """
    from audit.services import audit_log_write
    from docintel.context import ActorContext

    created = skipped = 0
    rows = list(feedback)
    taken = set(
        EvaluationQuestion.objects.filter(source_feedback__in=[f.pk for f in rows]).values_list(
            "source_feedback_id", flat=True
        )
    )
    for row in rows:
        if row.rating >= 0 or row.pk in taken:
            skipped += 1
            continue
        query = row.response.query
        question = EvaluationQuestion.objects.create(
            text=query.standalone_text or query.text,
            language=query.language,
            ask_as=row.user,
            source_feedback=row,
            source_response=row.response,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            notes=f"From thumbs-down feedback: {row.comment}".strip() if row.comment else "From thumbs-down feedback.",
        )
        audit_log_write(
            action="evaluation_question_created",
            ctx=ActorContext.for_user(actor),
            target=question,
            details={"feedback_id": row.pk, "response_id": row.response_id},
        )
        created += 1
    return created, skipped
