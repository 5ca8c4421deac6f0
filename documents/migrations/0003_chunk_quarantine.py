"""Quarantine of passages flagged as injected text: the rule that fired, and who released it when."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0002_document_parent"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="chunk",
            name="injection_flag",
            field=models.BooleanField(
                default=False,
                help_text="the text looks like instructions to a model; held out of retrieval until released",
                verbose_name="suspected injection",
            ),
        ),
        migrations.AddField(
            model_name="chunk",
            name="injection_rule",
            field=models.CharField(
                blank=True, help_text="why the passage was quarantined", max_length=200, verbose_name="rule that fired"
            ),
        ),
        migrations.AddField(
            model_name="chunk",
            name="released_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="released from quarantine"),
        ),
        migrations.AddField(
            model_name="chunk",
            name="released_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="released by",
            ),
        ),
        migrations.CreateModel(
            name="QuarantinedPassage",
            fields=[],
            options={
                "verbose_name": "quarantined passage",
                "verbose_name_plural": "quarantined passages",
                "ordering": ("-id",),
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("documents.chunk",),
        ),
        migrations.AddIndex(
            model_name="chunk",
            index=models.Index(
                condition=models.Q(("injection_flag", True), ("released_at__isnull", True)),
                fields=["document"],
                name="chunk_quarantined",
            ),
        ),
    ]
