"""EvaluationRun and EvaluationQuestion left for the evaluation app (state only; the tables stay, owned there)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0004_response_extractive_decision"),
        ("evaluation", "0001_initial"),
        ("review", "0002_alter_reviewitem_evaluation_question"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="EvaluationQuestion"),
                migrations.DeleteModel(name="EvaluationRun"),
            ],
            database_operations=[],
        ),
    ]
