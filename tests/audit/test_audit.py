"""AuditLog is append-only: no update, no delete, not from the ORM, not from raw SQL, not from the admin."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, AuditLog
from audit.services import audit_log_write

pytestmark = pytest.mark.django_db


def test_write_records_actor_target_and_request(rf, librarian):
    request = rf.get("/", HTTP_USER_AGENT="pytest-agent", REMOTE_ADDR="10.1.2.3")
    request.user = librarian
    request.request_id = "abc123"
    row = audit_log_write(action="thing_done", target=librarian, request=request, details={"k": 1})
    row.refresh_from_db()
    assert row.actor == librarian and row.actor_repr == librarian.email
    assert (row.target_type, row.target_id) == ("docintel.user", str(librarian.pk))
    assert (row.ip_address, row.user_agent, row.request_id) == ("10.1.2.3", "pytest-agent", "abc123")
    assert row.details == {"k": 1}


def test_orm_cannot_update_or_delete_rows(librarian):
    row = audit_log_write(action="x", actor=librarian)
    row.action = "changed"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.filter(pk=row.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditLog.objects.all().delete()
    row.refresh_from_db()
    assert row.action == "x"


def test_database_refuses_update_and_delete_even_in_raw_sql(librarian):
    row = audit_log_write(action="x", actor=librarian)
    table = AuditLog._meta.db_table
    for sql in (f"UPDATE {table} SET action = 'y' WHERE id = %s", f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [row.pk])
    row.refresh_from_db()
    assert row.action == "x"


def test_rows_survive_the_deletion_of_their_actor(librarian):
    audit_log_write(action="x", actor=librarian)
    email = librarian.email
    librarian.delete()
    row = AuditLog.objects.get(action="x")
    assert row.actor_repr == email


def test_admin_is_read_only(client, superuser, librarian):
    row = audit_log_write(action="x", actor=librarian)
    client.force_login(superuser)
    assert client.get("/admin/audit/auditlog/").status_code == 200
    assert client.get(f"/admin/audit/auditlog/{row.pk}/change/").status_code == 200
    assert client.get("/admin/audit/auditlog/add/").status_code == 403
    response = client.post(f"/admin/audit/auditlog/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()
