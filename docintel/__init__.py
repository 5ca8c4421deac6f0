"""The DocIntel project package: settings, URLs, the ASGI/WSGI entry points, the Celery app, and what every app shares.

Shared pieces: the email-keyed User model and its admin, the coded error family (:mod:`docintel.errors`), logging
set-up, health probes, sign-in lockout and the ``/api/v1/`` glue (:mod:`docintel.api`). The Celery app is imported
here so that ``celery -A docintel`` finds it and ``@shared_task`` binds to it in every process.
"""

from docintel.celery import app as celery_app

__all__ = ("celery_app",)
