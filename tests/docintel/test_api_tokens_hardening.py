"""JWT hardening (issue 13, row 4): rotation, revocation, lockout and audit.

JWT hardening: rotation with blacklist, logout and password change revoke, sign-in lockout
with a coded 429 on the API, no 500 for a deleted user's token, and the audit rows of token issue and sign-in.
"""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from audit.models import AuditLog

pytestmark = pytest.mark.django_db

TOKEN, REFRESH, VERIFY, LOGOUT = (
    "/api/v1/auth/token/",
    "/api/v1/auth/token/refresh/",
    "/api/v1/auth/token/verify/",
    "/api/v1/auth/logout/",
)


def _sign_in(anon, email="reader@example.com", password="pw-reader-1", **extra):
    return anon.post(TOKEN, {"email": email, "password": password}, format="json", **extra)


def _tokens(anon):
    response = _sign_in(anon)
    assert response.status_code == 200, response.content
    return response.json()["access"], response.json()["refresh"]


def _refresh(anon, refresh):
    return anon.post(REFRESH, {"refresh": refresh}, format="json")


def test_refresh_rotates_and_the_old_refresh_token_is_blacklisted(anon, reader):
    _, refresh = _tokens(anon)
    renewed = _refresh(anon, refresh)
    assert renewed.status_code == 200
    new_refresh = renewed.json()["refresh"]  # before: no "refresh" in the answer (no rotation)
    assert new_refresh != refresh
    replay = _refresh(anon, refresh)
    assert replay.status_code == 401 and replay.json()["code"] == "authentication_failed"
    assert _refresh(anon, new_refresh).status_code == 200


def test_api_logout_revokes_the_refresh_token(anon, reader):
    access, refresh = _tokens(anon)
    out = anon.post(LOGOUT, {"refresh": refresh}, format="json")
    assert out.status_code == 200 and out.json() == {}
    refused = _refresh(anon, refresh)
    assert refused.status_code == 401 and refused.json()["code"] == "authentication_failed"
    assert anon.post(LOGOUT, {"refresh": refresh}, format="json").status_code == 401  # already revoked
    assert anon.post(LOGOUT, {"refresh": access}, format="json").status_code == 401  # not a refresh token
    row = AuditLog.objects.get(action="token_revoked")
    assert row.actor == reader


def test_portal_logout_revokes_every_outstanding_refresh_token_of_the_user(anon, client, reader, outsider):
    _, first = _tokens(anon)
    _, second = _tokens(anon)
    other = _sign_in(anon, "outsider@example.com", "pw-outsider-1").json()["refresh"]
    client.force_login(reader)
    assert client.post("/accounts/logout/").status_code == 302
    assert _refresh(anon, first).status_code == 401
    assert _refresh(anon, second).status_code == 401
    assert _refresh(anon, other).status_code == 200  # someone else's tokens stay valid
    assert AuditLog.objects.get(action="logout").details == {"tokens_revoked": 2}


def test_a_password_change_in_the_admin_revokes_refresh_and_access_tokens(anon, api_as, client, reader, superuser):
    access, refresh = _tokens(anon)
    client.force_login(superuser)
    response = client.post(
        f"/admin/docintel/user/{reader.pk}/password/",
        {"password1": "a-new-long-password-1", "password2": "a-new-long-password-1", "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    refused = _refresh(anon, refresh)
    assert refused.status_code == 401 and refused.json()["detail"] == {"reason": "password_changed"}
    bearer = api_as(None)
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert bearer.get("/api/v1/sessions/").status_code == 401


def test_a_password_changed_anywhere_else_revokes_too(anon, reader):
    _, refresh = _tokens(anon)
    reader.set_password("changed-on-the-command-line-1")
    reader.save()
    assert _refresh(anon, refresh).status_code == 401


def test_refreshing_a_deleted_or_deactivated_users_token_is_401_not_500(anon, reader, outsider):
    _, refresh = _tokens(anon)
    reader.delete()  # before: User.DoesNotExist -> 500
    gone = _refresh(anon, refresh)
    assert gone.status_code == 401
    assert gone.json() == {
        "code": "authentication_failed",
        "message": "No active account found for the given token.",
        "detail": {"reason": "no_active_account"},
    }
    _, other = _tokens_for(anon, "outsider@example.com", "pw-outsider-1")
    outsider.is_active = False
    outsider.save(update_fields=["is_active"])
    assert _refresh(anon, other).status_code == 401


def _tokens_for(anon, email, password):
    body = _sign_in(anon, email, password).json()
    return body["access"], body["refresh"]


def test_a_hundred_wrong_passwords_are_refused_with_a_coded_429(anon, reader, settings):
    statuses = [_sign_in(anon, password=f"wrong-{n}").status_code for n in range(settings.AXES_FAILURE_LIMIT + 2)]
    # before: 401 for ever, however many attempts
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [401] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[-1] == 429
    locked = _sign_in(anon)  # even the right password, while locked out
    assert locked.status_code == 429
    body = locked.json()
    assert body["code"] == "login_locked_out" and set(body) == {"code", "message", "detail"}
    assert body["detail"]["retry_after"] == settings.AXES_COOLOFF_TIME.total_seconds()
    assert locked["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    # the lockout is per email address and client: the same person elsewhere, or another account, may sign in
    assert _sign_in(anon, REMOTE_ADDR="10.9.9.9").status_code == 200
    assert _sign_in(anon, "outsider@example.com", "pw-outsider-1").status_code == 401  # no user yet: not locked
    rows = AuditLog.objects.filter(action="login_failed")
    assert rows.count() == settings.AXES_FAILURE_LIMIT + 4  # 7 wrong, 1 right while locked, 1 unknown account
    assert rows.filter(details__locked_out=True).exists()
    assert set(rows.values_list("target_repr", flat=True)) == {"reader@example.com", "outsider@example.com"}


def test_case_variants_of_the_email_count_as_one_account(anon, reader, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(anon, email="Reader@Example.com" if n % 2 else "READER@example.com", password="wrong")
    assert _sign_in(anon).status_code == 429


def test_token_issue_and_refresh_are_audited_with_the_token_id(anon, reader):
    _, refresh = _tokens(anon)
    _refresh(anon, refresh)
    rows = list(AuditLog.objects.filter(action="token_issued").order_by("id"))
    assert [(r.actor, r.details["grant"]) for r in rows] == [(reader, "password"), (reader, "refresh")]
    jtis = set(OutstandingToken.objects.filter(user=reader).values_list("jti", flat=True))
    assert {r.details["jti"] for r in rows} <= jtis
