"""EvaluationRun and EvaluationQuestion move from chat to this app: state only, the tables keep their names.

The content types follow (their permissions stay attached), so nothing a librarian was granted is lost.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MODELS = ("evaluationrun", "evaluationquestion")


def _move(apps, source, target):
    """Re-label the models' content types; when the target exists already, move the permissions onto it."""
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        old = content_type.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = content_type.objects.filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        for grant in permission.objects.filter(content_type=old):
            if permission.objects.filter(content_type=new, codename=grant.codename).exists():
                grant.delete()
            else:
                grant.content_type = new
                grant.save(update_fields=["content_type"])
        old.delete()


def content_types_move(apps, schema_editor):
    _move(apps, "chat", "evaluation")


def content_types_back(apps, schema_editor):
    _move(apps, "evaluation", "chat")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('chat', '0004_response_extractive_decision'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('auth', '0012_alter_user_first_name_max_length'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='EvaluationQuestion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('text', models.TextField(verbose_name='question')),
                        ('language', models.CharField(blank=True, max_length=16, verbose_name='language')),
                        ('expected_answer', models.TextField(blank=True, help_text='a short span the answer must contain; empty: not scored yet', verbose_name='expected answer')),
                        ('expect_no_answer', models.BooleanField(default=False, help_text='the library has no answer to it', verbose_name='expect “the documents do not say”')),
                        ('active', models.BooleanField(default=True, verbose_name='active')),
                        ('notes', models.TextField(blank=True, verbose_name='notes')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                        ('ask_as', models.ForeignKey(blank=True, help_text='the reader whose documents the question is answered from', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='ask as')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('source_feedback', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='evaluation_question', to='chat.feedback')),
                        ('source_response', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='evaluation_questions', to='chat.response')),
                    ],
                    options={
                        'verbose_name': 'evaluation question',
                        'verbose_name_plural': 'evaluation questions',
                        'db_table': 'chat_evaluationquestion',
                        'ordering': ('-created_at',),
                    },
                ),
                migrations.CreateModel(
                    name='EvaluationRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('started_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='started')),
                        ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                        ('status', models.CharField(choices=[('running', 'Running'), ('completed', 'Completed'), ('failed', 'Failed')], default='running', max_length=16, verbose_name='status')),
                        ('scope', models.CharField(default='full', help_text='fast (make test) or full', max_length=16, verbose_name='scope')),
                        ('model_name', models.CharField(blank=True, max_length=128, verbose_name='answering model')),
                        ('judge_model', models.CharField(blank=True, max_length=128, verbose_name='judge model')),
                        ('judge_base_url', models.CharField(blank=True, max_length=300, verbose_name='judge URL')),
                        ('config', models.JSONField(blank=True, default=dict, verbose_name='configuration')),
                        ('metrics', models.JSONField(blank=True, default=dict, verbose_name='metrics')),
                        ('items', models.JSONField(blank=True, default=list, verbose_name='per-question results')),
                        ('report_markdown', models.TextField(blank=True, verbose_name='report (Markdown)')),
                        ('error', models.TextField(blank=True, verbose_name='error')),
                        ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'evaluation run',
                        'verbose_name_plural': 'evaluation runs',
                        'db_table': 'chat_evaluationrun',
                        'ordering': ('-started_at',),
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_back),
    ]
