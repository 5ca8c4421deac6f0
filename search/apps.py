"""Django app configuration of the search app."""

from django.apps import AppConfig


class SearchConfig(AppConfig):
    """Registers the search app (no models of its own), shown as "Search"."""

    name = "search"
    verbose_name = "Search"
    default_auto_field = "django.db.models.BigAutoField"
