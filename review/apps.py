"""Django's registration of the review app."""

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    """The review app (ReviewItem, Replay and their admin), with 64-bit primary keys."""

    name = "review"
    verbose_name = "Review"
    default_auto_field = "django.db.models.BigAutoField"
