"""Celery task of the review app: run an admin's replay of a stored answer (takes the Replay's id)."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from docintel.celery import DocIntelTask
from docintel.errors import TransientError
from documents.tasks import ingestion_task
from review.services.replay import REPLAY_SOFT_TIME_LIMIT, REPLAY_TIME_LIMIT, replay_execute, replay_fail

log = structlog.get_logger(__name__)

MAX_RETRIES = 2  # 3 attempts in all


class ReplayRunTask(DocIntelTask):
    """A replay the broker could not take is marked failed (``broker_unavailable``), not left pending for ever."""

    def on_enqueue_error(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Fail the replay named by the task's first argument, with the broker's error as its message.

        Args:
            exc: the broker's error.
            args: ``(replay_id,)``.
            kwargs: unused.
        """
        replay_fail(replay_id=int(args[0]), code="broker_unavailable", message=f"The task could not be queued: {exc}")


# The ingestion tasks' definition (acks_late, reject_on_worker_lost, Celery's backoff with full jitter) with the
# replay's time limits; only a TransientError is retried (autoretry_for), as before.
@ingestion_task(
    base=ReplayRunTask,
    soft_time_limit=REPLAY_SOFT_TIME_LIMIT,
    time_limit=REPLAY_TIME_LIMIT,
    autoretry_for=(TransientError,),
    max_retries=MAX_RETRIES,
)
def replay_run(self: Task[Any, Any], replay_id: int) -> str:
    """Replay a stored answer against the current index; retry while embeddings or the vector store are down.

    Up to three attempts with backoff; the last one, or the soft time limit, fails the replay with its code instead
    of leaving it pending.

    Args:
        self: the bound task; its retry count tells whether this is the last attempt.
        replay_id: the Replay to run (claimed by the service, so a duplicate delivery does nothing).

    Returns:
        The replay's status, ``failed`` after a timeout, or ``skipped`` when another run owns it or it is gone.

    Raises:
        Retry: a transient error (embeddings or vector store down) on an attempt that is not the last.
    """
    structlog.contextvars.bind_contextvars(replay_id=replay_id)
    final = self.request.retries >= MAX_RETRIES
    try:
        replay = replay_execute(replay_id=replay_id, final_attempt=final)
    except SoftTimeLimitExceeded:
        replay_fail(
            replay_id=replay_id, code="timeout", message=f"The replay took longer than {REPLAY_SOFT_TIME_LIMIT} s."
        )
        return "failed"
    if replay is None:
        log.info("replay_skipped")
        return "skipped"
    return str(replay.status)
