"""structlog set-up shared by Django, Celery and Daphne: JSON in production, readable console in development."""

from __future__ import annotations

import logging
import logging.config
import os
from typing import Any

import structlog

_configured = False


def configure_logging(*, json_output: bool, level: str = "INFO") -> None:
    """Configure structlog and the standard library logging once per process.

    Args:
        json_output: render one JSON object per line (production) instead of the coloured console renderer.
        level: the root log level.
    """
    global _configured  # noqa: PLW0603 - configure-once guard for a process-wide side effect
    if _configured:
        return
    _configured = True
    # Haystack installs its own structlog handler on its loggers when it is imported, and they still propagate to
    # the root handler below: every Haystack line was printed twice (its console line and ours). This tells it to
    # leave logging alone; its records then reach the root handler once, rendered like every other line.
    os.environ.setdefault("HAYSTACK_LOGGING_IGNORE_STRUCTLOG", "true")
    for name in ("haystack", "haystack_integrations", "haystack_experimental"):  # imported before us: undo it
        logging.getLogger(name).handlers.clear()

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structlog"}},
            "root": {"handlers": ["console"], "level": level},
            "loggers": {
                "django.db.backends": {"level": "WARNING"},
                "httpx": {"level": "WARNING"},
                "httpcore": {"level": "WARNING"},
                "daphne": {"level": "INFO"},
                "celery": {"level": "INFO"},
                # "Running component ..." for every component of every pipeline run: our services log the event.
                "haystack": {"level": "WARNING"},
            },
        }
    )
