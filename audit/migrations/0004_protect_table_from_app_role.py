"""Take the audit table away from the app's database role: it may read and append, never TRUNCATE or drop triggers.

See :func:`audit.services.audit_table_protect`. Needs a superuser (it creates roles and changes ownership); run by
another role, it logs ``audit_table_unprotected`` and changes nothing: run ``manage.py audit_protect`` as a superuser.
"""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    from audit.services import audit_table_protect

    audit_table_protect(connection=schema_editor.connection, app_roles=list(settings.DOCINTEL_DB_APP_ROLES))


def backwards(apps, schema_editor):
    from audit.services import audit_table_unprotect

    audit_table_unprotect(connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only_trigger")]
    operations = [migrations.RunPython(forwards, backwards)]
