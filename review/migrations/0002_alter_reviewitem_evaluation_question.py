"""The review item's evaluation question now lives in the evaluation app (state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('evaluation', '0001_initial'),
        ('review', '0001_review_queue_and_replays'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(  # same table (chat_evaluationquestion): the constraint is unchanged
            state_operations=[
                migrations.AlterField(
                    model_name='reviewitem',
                    name='evaluation_question',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='evaluation.evaluationquestion'),
                ),
            ],
            database_operations=[],
        ),
    ]
