"""``manage.py audit_protect``: protect the audit table (as a superuser) when the migration could not."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from audit.services import audit_table_protect


class Command(BaseCommand):
    """Protect the audit table after a migration run by a role that could not (migration 0004 needs a superuser).

    Run once with a superuser ``DATABASE_URL``: the table passes to ``docintel_audit_owner`` and the app's roles
    (the ``DOCINTEL_DB_APP_ROLES`` setting) may only SELECT and INSERT. Safe to run again.
    """

    help = "Give audit_auditlog to a separate owner role; the app's roles (DATABASE_APP_ROLES) keep SELECT, INSERT."

    def add_arguments(self, parser: Any) -> None:
        """``--database``: the connection alias to protect (default ``default``).

        Args:
            parser: the command's argument parser.
        """
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        """Protect the table on the chosen connection and say so.

        Args:
            *args: unused.
            **options: ``database``, the connection alias.

        Raises:
            CommandError: the connected role is not a superuser (or the database is not PostgreSQL); nothing changed.
        """
        connection = connections[options["database"]]
        if not audit_table_protect(connection=connection, app_roles=list(settings.DOCINTEL_DB_APP_ROLES)):
            raise CommandError("Not protected: connect as a PostgreSQL superuser (see the log line above).")
        self.stdout.write("audit_auditlog is owned by docintel_audit_owner; app roles may SELECT and INSERT.")
