"""The Celery application and its task class. Tasks live in each app's ``tasks.py``; they take ids and call one service.

Services enqueue with ``task.delay_on_commit(...)`` / ``task.apply_async_on_commit(...)`` (Celery's
:class:`~celery.contrib.django.task.DjangoTask`): the message is sent once the surrounding transaction commits,
never inside it, so a worker never reads a row that is not there yet. :class:`DocIntelTask` is that class with one
difference, kept from the hand-written helpers it replaces: a broker that is down at that moment does not turn a
committed change into an error page. The failure is logged (``task_enqueue_failed``) and passed to
:meth:`DocIntelTask.on_enqueue_error`; the row keeps the state that says it waits (a queued document, a pending
replay), so a re-ingest, a retry or a later import picks it up.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from celery import Celery, signals
from celery.contrib.django.task import DjangoTask
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

log = structlog.get_logger(__name__)


class DocIntelTask(DjangoTask):  # type: ignore[type-arg]  # the task's signature is the decorated function's
    """Celery's Django task class whose after-commit enqueues survive a broker outage (logged, then the hook).

    Every task of the project uses it (``Celery(task_cls=...)``; the task modules also name it as ``base`` so the
    type checker knows ``delay_on_commit``).
    """

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]  # returns None, as Celery
        """Send the task with ``args``/``kwargs`` once the current transaction commits (at once outside one)."""
        transaction.on_commit(
            functools.partial(self._send_guarded, functools.partial(self.delay, *args, **kwargs), args, kwargs)
        )

    def apply_async_on_commit(  # type: ignore[override]  # returns None, as Celery's does
        self, args: tuple[Any, ...] | None = None, kwargs: dict[str, Any] | None = None, **options: Any
    ) -> None:
        """:meth:`apply_async` (``queue=``, ``countdown=``... in ``options``) once the current transaction commits.

        Args:
            args: the task's positional arguments.
            kwargs: the task's keyword arguments.
            **options: the sending options of :meth:`apply_async`.
        """
        send = functools.partial(self.apply_async, args, kwargs, **options)
        transaction.on_commit(functools.partial(self._send_guarded, send, args or (), kwargs or {}))

    def _send_guarded(self, send: Callable[[], object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            send()
        except BrokerError as exc:  # the transaction is committed: say so, never raise into the caller's response
            log.error("task_enqueue_failed", task=self.name, task_args=list(args), error=str(exc))
            self.on_enqueue_error(exc, args, kwargs)

    def on_enqueue_error(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Called after commit when the broker refused the message (already logged); by default nothing more.

        A task whose row would otherwise wait for ever overrides it (a replay is marked failed).

        Args:
            exc: the broker's error.
            args: the task's positional arguments.
            kwargs: the task's keyword arguments.
        """


app = Celery("docintel", task_cls=DocIntelTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@contextlib.contextmanager
def tasks_inline() -> Iterator[None]:
    """Run the tasks enqueued meanwhile in this process, eagerly (the same task code a worker runs).

    On exit the override is removed rather than set back: a value written into ``app.conf`` stays in its changes for
    the life of the process and hides ``CELERY_TASK_ALWAYS_EAGER`` from Django's settings, which Celery otherwise
    reads live (tests that set it would silently enqueue to the broker instead).
    """
    changes = app.conf.changes
    assert changes is not None  # a configured app always has its change map
    had, before = "task_always_eager" in changes, changes.get("task_always_eager")
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        if had:
            changes["task_always_eager"] = before
        else:
            changes.pop("task_always_eager", None)


@signals.setup_logging.connect
def _use_django_logging(**_: Any) -> None:
    """Keep the structlog set-up made by the settings module instead of Celery's own."""


@signals.task_prerun.connect
def _bind_task_context(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect
def _clear_task_context(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


@signals.worker_ready.connect
def _mark_ready(**_: Any) -> None:
    """Let a supervisor (runportal, the test fixtures) know the worker consumes."""
    marker = os.environ.get("DOCINTEL_WORKER_READY_FILE")
    if marker:
        with open(marker, "w") as handle:
            handle.write("ready")
