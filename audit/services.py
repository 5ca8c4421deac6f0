"""The single writer of AuditLog rows, and the database-side protection of their table."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from audit.models import AuditLog
from docintel.context import ActorContext

log = structlog.get_logger(__name__)


def audit_log_write(
    *,
    action: str,
    ctx: ActorContext | None = None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    target_repr: str = "",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row: who (``ctx``), did what (``action``), to what (``target``), with which facts.

    Args:
        action: what happened, snake_case (``document_uploaded``, ``admin_change``, ``guardrail_blocked``...).
        ctx: who acted and from where (actor, IP address, user agent, request id); None is the system.
        target: the model instance acted on; fills target type, id and repr.
        target_type: the target's type when there is no instance at hand.
        target_id: the target's id when there is no instance at hand.
        target_repr: a human-readable name of the target.
        details: JSON-serialisable facts about the action.

    Returns:
        The new AuditLog row.
    """
    ctx = ctx or ActorContext.system()
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
        target_repr = target_repr or str(target)
    actor = ctx.actor
    row = AuditLog.objects.create(
        actor=actor,
        actor_repr=str(actor) if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        target_repr=target_repr[:255],
        ip_address=ctx.ip_address,
        user_agent=ctx.user_agent[:512],
        request_id=ctx.request_id,
        details=details or {},
    )
    log.info("audit_written", action=action, target_type=target_type, target_id=str(target_id))
    return row


AUDIT_OWNER_ROLE = "docintel_audit_owner"
"""NOLOGIN role that owns ``audit_auditlog``, its trigger function: nobody signs in as it, nobody is a member."""
AUDIT_WRITER_ROLE = "docintel_audit_writer"
"""NOLOGIN group role with SELECT and INSERT on ``audit_auditlog``, granted to the roles the app connects as."""

_CREATE_ROLE = """
DO $$ BEGIN
    CREATE ROLE {role} NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- roles are cluster-wide: made once
END $$;
"""
_PROTECT = """
ALTER TABLE audit_auditlog OWNER TO {owner};
ALTER FUNCTION audit_auditlog_append_only() OWNER TO {owner};
REVOKE ALL ON audit_auditlog FROM PUBLIC;
GRANT SELECT, INSERT ON audit_auditlog TO {writer};
CREATE OR REPLACE FUNCTION audit_auditlog_no_drop() RETURNS event_trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects()
               WHERE object_type = 'table' AND object_name = 'audit_auditlog') THEN
        RAISE EXCEPTION USING MESSAGE = 'audit_auditlog is append-only: DROP refused',
            ERRCODE = 'insufficient_privilege';
    END IF;
END;
$$ LANGUAGE plpgsql;
DROP EVENT TRIGGER IF EXISTS audit_auditlog_no_drop;
CREATE EVENT TRIGGER audit_auditlog_no_drop ON sql_drop EXECUTE FUNCTION audit_auditlog_no_drop();
"""
_UNPROTECT = """
DROP EVENT TRIGGER IF EXISTS audit_auditlog_no_drop;
DROP FUNCTION IF EXISTS audit_auditlog_no_drop();
ALTER TABLE audit_auditlog OWNER TO CURRENT_USER;
ALTER FUNCTION audit_auditlog_append_only() OWNER TO CURRENT_USER;
"""


def _is_superuser(cursor: Any) -> bool:
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    return bool(row and row[0])


def audit_table_protect(*, connection: BaseDatabaseWrapper, app_roles: list[str]) -> bool:
    """Take ``audit_auditlog`` away from the roles the app connects as (PostgreSQL; run as a superuser).

    The table and its append-only trigger function pass to :data:`AUDIT_OWNER_ROLE`; the app's roles keep SELECT and
    INSERT through :data:`AUDIT_WRITER_ROLE`. Not being the owner, the app's role can neither TRUNCATE the table nor
    drop, disable or replace its triggers (``ALTER``/``DROP`` need ownership), and an event trigger refuses
    ``DROP TABLE`` even from the owner of the schema. A superuser can still do anything; the app must not be one.

    Args:
        connection: the database connection (a migration's ``schema_editor.connection``).
        app_roles: the roles the web process and the workers connect as (``DATABASE_APP_ROLES``); the current user
            too when it is not a superuser.

    Returns:
        True when the protection is in place; False (logged) when the connected role may not set it up, or the
        database is not PostgreSQL.
    """
    if connection.vendor != "postgresql":
        return False
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if not _is_superuser(cursor):
            log.warning(
                "audit_table_unprotected",
                reason="the migrating role is not a superuser",
                fix="run `manage.py audit_protect` once with a superuser DATABASE_URL and DATABASE_APP_ROLES set",
            )
            return False
        for role in (AUDIT_OWNER_ROLE, AUDIT_WRITER_ROLE):
            cursor.execute(_CREATE_ROLE.format(role=quote(role)))
        cursor.execute(_PROTECT.format(owner=quote(AUDIT_OWNER_ROLE), writer=quote(AUDIT_WRITER_ROLE)))
        for role in app_roles:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            row = cursor.fetchone()
            if row is None:
                log.warning("audit_app_role_missing", role=role)
                continue
            if row[0]:
                log.warning("audit_app_role_is_superuser", role=role)  # a superuser bypasses every privilege
            # privileges given to the role directly (ALTER DEFAULT PRIVILEGES, an earlier GRANT) go: only the writer's
            cursor.execute(f"REVOKE ALL ON audit_auditlog FROM {quote(role)}")
            cursor.execute(f"GRANT {quote(AUDIT_WRITER_ROLE)} TO {quote(role)}")
    log.info("audit_table_protected", owner=AUDIT_OWNER_ROLE, writer=AUDIT_WRITER_ROLE, app_roles=app_roles)
    return True


def audit_table_unprotect(*, connection: BaseDatabaseWrapper) -> None:
    """Undo :func:`audit_table_protect` (the migration's reverse): the current user owns the table again."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if _is_superuser(cursor):
            cursor.execute(_UNPROTECT)
