"""The evaluation app: evaluation runs and curated questions (models, admin), the suite and ``run_evaluation``."""

from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """The ``evaluation`` app; its tables kept their ``chat_`` names when the models moved here from ``chat``."""

    name = "evaluation"
    verbose_name = "Evaluation"
    default_auto_field = "django.db.models.BigAutoField"
