"""Portal and admin sign-in (issue 13, rows 4 and 6): every attempt audited, lockout (429) after repeated failures."""

from __future__ import annotations

import pytest

from audit.models import AuditLog

pytestmark = pytest.mark.django_db

PORTAL, ADMIN = "/accounts/login/", "/admin/login/"


def _post(client, url, email, password, **extra):
    return client.post(url, {"username": email, "password": password}, **extra)


@pytest.mark.parametrize(("url", "route"), [(PORTAL, "portal"), (ADMIN, "admin")])
def test_a_failed_sign_in_writes_an_audit_row_without_the_password(client, librarian, url, route):
    response = _post(client, url, "Librarian@example.com", "not-the-password", REMOTE_ADDR="10.0.0.7")
    assert response.status_code == 200  # the form again, with its error
    row = AuditLog.objects.get(action="login_failed")  # before: no row at all
    assert row.actor is None and row.target_repr == "librarian@example.com"
    assert row.ip_address == "10.0.0.7"
    assert row.details["route"] == route and row.details["locked_out"] is False
    assert "not-the-password" not in str(row.details)


@pytest.mark.parametrize(("url", "route", "landing"), [(PORTAL, "portal", "/chat/"), (ADMIN, "admin", "/admin/")])
def test_a_successful_sign_in_is_audited_with_its_route(client, librarian, url, route, landing):
    response = _post(client, url, "librarian@example.com", "pw-librarian-1")
    assert response.status_code == 302 and response["Location"] == landing
    row = AuditLog.objects.get(action="login")
    assert row.actor == librarian and row.details == {"route": route}  # before: no row for the admin


def test_a_reader_refused_by_the_admin_sign_in_is_audited_as_failed(client, reader):
    response = _post(client, ADMIN, "reader@example.com", "pw-reader-1")
    assert response.status_code == 200
    row = AuditLog.objects.get(action="login_failed")
    assert row.details["route"] == "admin" and row.details["reasons"] == ["invalid_login"]
    assert not AuditLog.objects.filter(action="login").exists()


def test_the_admin_sign_in_page_still_renders_and_redirects_a_signed_in_librarian(client, librarian):
    page = client.get(ADMIN)
    assert page.status_code == 200 and b'name="username"' in page.content and b"DocIntel" in page.content
    client.force_login(librarian)
    assert client.get(ADMIN)["Location"] == "/admin/"


@pytest.mark.parametrize("url", [PORTAL, ADMIN])
def test_repeated_wrong_passwords_lock_the_sign_in_out_with_429(client, librarian, settings, url):
    statuses = [_post(client, url, "librarian@example.com", f"wrong-{n}").status_code for n in range(7)]
    # before: 200 (the form again) for ever
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    locked = _post(client, url, "librarian@example.com", "pw-librarian-1")
    assert locked.status_code == 429 and locked["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert b'data-code="login_locked_out"' in locked.content
    assert "_auth_user_id" not in client.session  # not signed in
    assert AuditLog.objects.filter(action="login_failed", details__locked_out=True).exists()
    # another client address is not locked out
    assert _post(client, url, "librarian@example.com", "pw-librarian-1", REMOTE_ADDR="10.3.3.3").status_code == 302


def test_the_lockout_is_shared_by_the_three_sign_in_routes(client, anon_api, librarian, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _post(client, PORTAL, "librarian@example.com", f"wrong-{n}")
    api = anon_api.post("/api/v1/auth/token/", {"email": "librarian@example.com", "password": "pw-librarian-1"})
    assert api.status_code == 429 and api.json()["code"] == "login_locked_out"
    assert _post(client, ADMIN, "librarian@example.com", "pw-librarian-1").status_code == 429


@pytest.fixture
def anon_api():
    from rest_framework.test import APIClient

    client = APIClient()
    client.default_format = "json"
    return client
