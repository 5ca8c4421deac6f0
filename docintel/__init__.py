"""DocIntel project package."""

from docintel.celery import app as celery_app

__all__ = ("celery_app",)
