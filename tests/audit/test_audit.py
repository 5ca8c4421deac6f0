"""AuditLog is append-only: no update, no delete, not from the ORM, not from raw SQL, not from the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, AuditLog
from audit.services import audit_log_write
from docintel.context import ActorContext

pytestmark = pytest.mark.django_db


def test_write_records_actor_target_and_request(rf, librarian):
    request = rf.get("/", HTTP_USER_AGENT="pytest-agent", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6")
    request.user = librarian
    request.request_id = "abc123"
    ctx = ActorContext.from_request(request)
    row = audit_log_write(action="thing_done", target=librarian, ctx=ctx, details={"k": 1})
    row.refresh_from_db()
    assert row.actor == librarian and row.actor_repr == librarian.email
    assert (row.target_type, row.target_id) == ("docintel.user", str(librarian.pk))
    # REMOTE_ADDR, never the forwarded header the client chose
    assert (row.ip_address, row.user_agent, row.request_id) == ("10.1.2.3", "pytest-agent", "abc123")
    assert row.details == {"k": 1}


def test_an_anonymous_request_and_the_system_write_no_actor(rf):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/", REMOTE_ADDR="10.1.2.4")
    request.user = AnonymousUser()
    anonymous = audit_log_write(action="login_failed", ctx=ActorContext.from_request(request))
    system = audit_log_write(action="document_version_activated")
    for row in (anonymous, system):
        row.refresh_from_db()
        assert row.actor is None and row.actor_repr == ""
    assert anonymous.ip_address == "10.1.2.4"
    assert (system.ip_address, system.user_agent, system.request_id) == (None, "", "")


def test_a_channels_scope_gives_the_user_the_client_address_and_the_user_agent(librarian):
    scope = {
        "type": "websocket",
        "user": librarian,
        "client": ["10.9.8.7", 51234],
        "headers": [(b"host", b"portal"), (b"User-Agent", "Πελάτης/1.0".encode())],
    }
    ctx = ActorContext.from_scope(scope)
    assert (ctx.actor, ctx.ip_address, ctx.request_id) == (librarian, "10.9.8.7", "")
    assert ctx.user_agent == "Πελάτης/1.0".encode().decode("latin-1")  # ASGI headers are bytes: kept as latin-1
    assert ActorContext.from_scope({"type": "websocket"}) == ActorContext.system()


def test_a_sign_in_keeps_the_origin_and_names_the_user_who_signed_in(rf, librarian):
    from django.contrib.auth.models import AnonymousUser

    request = rf.post("/accounts/login/", REMOTE_ADDR="10.1.2.5", HTTP_USER_AGENT="ua")
    request.user = AnonymousUser()
    request.request_id = "req-1"
    ctx = ActorContext.from_request(request)
    assert ctx.is_system
    signed_in = ctx.as_actor(librarian)
    assert (signed_in.actor, signed_in.ip_address, signed_in.user_agent, signed_in.request_id) == (
        librarian, "10.1.2.5", "ua", "req-1",
    )  # fmt: skip
    assert ctx.actor is None  # frozen: the original is untouched


@pytest.mark.parametrize("title", ["Quarterly report", "Τριμηνιαία έκθεση"])
def test_the_api_and_the_admin_record_ip_user_agent_and_request_id_through_the_context(
    title, client, librarian, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.factories import make_document

    api_doc, admin_doc = make_document(title=title), make_document(title=f"{title} 2")
    origin: dict[str, Any] = {"REMOTE_ADDR": "10.20.30.40", "HTTP_USER_AGENT": "portal-test-agent/2"}
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(librarian).access_token}")
    with django_capture_on_commit_callbacks(execute=False):  # no task is sent
        response = api.generic("DELETE", f"/api/v1/documents/{api_doc.pk}/", HTTP_X_REQUEST_ID="api-req-1", **origin)
        assert response.status_code == 204
        client.force_login(librarian)
        response = client.post(
            "/admin/documents/document/",
            {"action": "reingest_selected", "_selected_action": [admin_doc.pk]},
            HTTP_X_REQUEST_ID="admin-req-1",
            **origin,
        )
        assert response.status_code == 302
    by_api = AuditLog.objects.get(action="document_delete_requested", target_id=str(api_doc.pk))
    by_admin = AuditLog.objects.get(action="document_reingest_requested", target_id=str(admin_doc.pk))
    for row, request_id in ((by_api, "api-req-1"), (by_admin, "admin-req-1")):
        assert row.actor == librarian
        assert (row.ip_address, row.user_agent, row.request_id) == ("10.20.30.40", "portal-test-agent/2", request_id)


def test_orm_cannot_update_or_delete_rows(librarian):
    row = audit_log_write(action="x", ctx=ActorContext.for_user(librarian))
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
    row = audit_log_write(action="x", ctx=ActorContext.for_user(librarian))
    table = AuditLog._meta.db_table
    for sql in (f"UPDATE {table} SET action = 'y' WHERE id = %s", f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [row.pk])
    row.refresh_from_db()
    assert row.action == "x"


def test_rows_survive_the_deletion_of_their_actor(librarian):
    audit_log_write(action="x", ctx=ActorContext.for_user(librarian))
    email = librarian.email
    librarian.delete()
    row = AuditLog.objects.get(action="x")
    assert row.actor_repr == email


def test_admin_is_read_only(client, superuser, librarian):
    row = audit_log_write(action="x", ctx=ActorContext.for_user(librarian))
    client.force_login(superuser)
    assert client.get("/admin/audit/auditlog/").status_code == 200
    assert client.get(f"/admin/audit/auditlog/{row.pk}/change/").status_code == 200
    assert client.get("/admin/audit/auditlog/add/").status_code == 403
    response = client.post(f"/admin/audit/auditlog/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()
