"""The Celery application. Tasks live in each app's ``tasks.py``; they take ids and call one service."""

from __future__ import annotations

import os
from typing import Any

import structlog
from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docintel.settings")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

app = Celery("docintel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
