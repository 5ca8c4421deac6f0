"""A password change revokes the JWTs a WebSocket would accept too (issue 13, row 4), as on the HTTP API.

An anonymous scope user is what the consumers close with 4401 (tests/docintel/test_accounts_and_ws_auth.py).
"""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from docintel.ws_auth import _user_for_token

pytestmark = pytest.mark.django_db


def test_a_token_issued_before_a_password_change_no_longer_opens_a_socket(librarian):
    token = str(AccessToken.for_user(librarian))
    user, exp = _user_for_token(token)
    assert user == librarian and exp
    librarian.set_password("a-brand-new-password-1")
    librarian.save()
    user, exp = _user_for_token(token)
    assert not user.is_authenticated and exp is None  # before: still the librarian
    fresh = str(AccessToken.for_user(librarian))
    assert _user_for_token(fresh)[0] == librarian
