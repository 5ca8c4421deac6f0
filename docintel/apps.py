"""The project package as a Django app: it owns the custom User model (migrations under ``docintel/migrations``)."""

from django.apps import AppConfig


class DocIntelConfig(AppConfig):
    """The ``docintel`` app (label ``docintel``, shown as "Accounts" in the admin): the User model and its admin."""

    name = "docintel"
    label = "docintel"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"
