"""Create the Librarian and Reader role groups with their permissions."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    librarian, _ = Group.objects.get_or_create(name="Librarian")
    Group.objects.get_or_create(name="Reader")
    wanted = [
        ("documents", "add_document"), ("documents", "change_document"), ("documents", "delete_document"),
        ("documents", "view_document"), ("documents", "view_chunk"), ("audit", "view_auditlog"),
        ("chat", "view_query"), ("chat", "view_response"), ("chat", "view_feedback"), ("chat", "view_chatsession"),
        ("auth", "view_group"),
    ]
    for app_label, codename in wanted:
        perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if perm is not None:
            librarian.permissions.add(perm)


class Migration(migrations.Migration):
    dependencies = [
        ("docintel", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("documents", "0001_initial"),
        ("chat", "0002_initial"),
        ("audit", "0003_append_only_trigger"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
