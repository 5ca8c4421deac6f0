from django.apps import AppConfig


class DocIntelConfig(AppConfig):
    name = "docintel"
    label = "docintel"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"
