"""The app's database role cannot erase the audit trail (issue 13, row 6): it may read and append, nothing more.

The tests run as the PostgreSQL superuser (trust auth on 127.0.0.1), which no privilege stops. So this connects as
a role like the app's in production: a LOGIN role, not a superuser, given the audit writer role the migration grants
to ``DATABASE_APP_ROLES``. Before the change the app's role owned the table: TRUNCATE and DROP TRIGGER worked.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from psycopg import sql

from audit.models import AuditLog
from audit.services import AUDIT_OWNER_ROLE, AUDIT_WRITER_ROLE, audit_log_write, audit_table_protect

pytestmark = pytest.mark.django_db

_INSERT = (
    "INSERT INTO audit_auditlog (actor_repr, action, target_type, target_id, target_repr, user_agent, request_id,"
    " details, created_at) VALUES ('', 'probe', '', '', '', '', '', '{}', now()) RETURNING id"
)


def _params(user: str) -> dict[str, object]:
    conf = connection.settings_dict
    return {"host": conf["HOST"] or "127.0.0.1", "port": conf["PORT"] or 5432, "dbname": conf["NAME"], "user": user}


@pytest.fixture
def app_role():
    """A non-superuser LOGIN role in the audit writer role, created (and dropped) outside the test transaction."""
    name = f"docintel_app_probe_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**_params(connection.settings_dict["USER"]), autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB IN ROLE {}").format(
                sql.Identifier(name), sql.Identifier(AUDIT_WRITER_ROLE)
            )
        )
        try:
            yield name
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def bare_role():
    """A non-superuser LOGIN role with no privileges at all, as a new deployment's app role before ``migrate``."""
    name = f"docintel_app_bare_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**_params(connection.settings_dict["USER"]), autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(name)))
        admin.execute(sql.SQL("GRANT DELETE, TRUNCATE ON audit_auditlog TO {}").format(sql.Identifier(name)))
        try:
            yield name
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def as_app(app_role):
    with psycopg.connect(**_params(app_role)) as conn:  # type: ignore[arg-type]
        yield conn


def _refused(conn, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    conn.rollback()


def test_the_table_and_its_trigger_function_belong_to_a_separate_owner_role():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_auditlog'")
        assert cursor.fetchone() == (AUDIT_OWNER_ROLE,)
        cursor.execute("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'audit_auditlog_append_only'")
        assert cursor.fetchone() == (AUDIT_OWNER_ROLE,)
        cursor.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", [AUDIT_OWNER_ROLE])
        assert cursor.fetchone() == (False,)


def test_the_app_role_may_read_and_append_audit_rows(as_app):
    row = as_app.execute(_INSERT).fetchone()
    assert row is not None and row[0] > 0
    assert as_app.execute("SELECT count(*) FROM audit_auditlog WHERE action = 'probe'").fetchone() == (1,)
    as_app.rollback()


def test_the_app_role_cannot_truncate_update_delete_or_drop_the_audit_table(as_app):
    _refused(as_app, "TRUNCATE audit_auditlog")
    _refused(as_app, "UPDATE audit_auditlog SET action = 'x'")
    _refused(as_app, "DELETE FROM audit_auditlog")
    _refused(as_app, "DROP TABLE audit_auditlog")


def test_the_app_role_cannot_drop_disable_or_replace_the_append_only_triggers(as_app):
    _refused(as_app, "DROP TRIGGER audit_auditlog_no_update ON audit_auditlog")
    _refused(as_app, "DROP TRIGGER audit_auditlog_no_delete ON audit_auditlog")
    _refused(as_app, "ALTER TABLE audit_auditlog DISABLE TRIGGER ALL")
    _refused(
        as_app,
        "CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$"
        " LANGUAGE plpgsql",
    )
    _refused(as_app, "ALTER TABLE audit_auditlog OWNER TO CURRENT_USER")
    _refused(as_app, "SET session_replication_role = replica")  # would skip every trigger


def test_even_the_schema_owner_cannot_drop_the_audit_table():
    audit_log_write(action="kept")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE audit_auditlog")
    assert AuditLog.objects.filter(action="kept").exists()


def test_the_django_writer_still_appends_rows():
    row = audit_log_write(action="login_failed", details={"route": "portal"})
    assert AuditLog.objects.get(pk=row.pk).action == "login_failed"


def test_the_migration_step_makes_a_configured_app_role_a_writer_and_drops_its_direct_grants(bare_role):
    from django.db import connections

    own = connections.create_connection("default")  # autocommit: the grants must be visible to the role's session
    try:
        assert audit_table_protect(connection=own, app_roles=[bare_role])
    finally:
        own.close()
    with psycopg.connect(**_params(bare_role)) as conn:  # type: ignore[arg-type]
        assert conn.execute(_INSERT).fetchone() is not None
        conn.rollback()
        _refused(conn, "TRUNCATE audit_auditlog")  # the direct TRUNCATE grant was revoked
        _refused(conn, "DROP TRIGGER audit_auditlog_no_delete ON audit_auditlog")
