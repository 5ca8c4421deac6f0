"""Document versions: a new version of a document ingests beside the current one and replaces it when indexed."""

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0003_chunk_quarantine"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="version_of",
            field=models.ForeignKey(
                blank=True,
                help_text="the first version of this document; empty for the first version itself",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="later_versions",
                to="documents.document",
                verbose_name="new version of",
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="version",
            field=models.PositiveIntegerField(default=1, verbose_name="version"),
        ),
        migrations.AddField(
            model_name="document",
            name="is_current",
            field=models.BooleanField(
                default=True,
                help_text="only the current version is searched and cited; a new version becomes current when ingested",
                verbose_name="current version",
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="superseded_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="superseded"),
        ),
        migrations.AddIndex(
            model_name="document",
            index=models.Index(fields=["version_of", "version"], name="document_family_version"),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                django.db.models.functions.comparison.Coalesce("version_of", "id"),
                condition=models.Q(("deleted_at__isnull", True), ("is_current", True)),
                name="document_one_current_version",
            ),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                django.db.models.functions.comparison.Coalesce("version_of", "id"),
                condition=models.Q(("deleted_at__isnull", True), ("is_current", False), ("superseded_at__isnull", True)),
                name="document_one_pending_version",
            ),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                django.db.models.functions.comparison.Coalesce("version_of", "id"),
                models.F("version"),
                name="document_version_unique",
            ),
        ),
    ]
