"""A question's access scope reads the user's roles and groups in one query, with the same answers as before."""

from __future__ import annotations

import pytest

from chat.services.retrieval import access_scope_for
from docintel.models import User
from docintel.roles import LIBRARIAN

pytestmark = pytest.mark.django_db


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # as the answer path reads its user for each question


def test_one_query_fills_both_the_role_and_the_groups(reader, finance, legal, django_assert_num_queries):
    reader.groups.add(legal)
    expected = frozenset(reader.groups.values_list("id", flat=True))
    user = _fresh(reader)
    with django_assert_num_queries(1):
        user.access_load()
    with django_assert_num_queries(0):
        assert user.is_librarian is False
        assert user.group_ids == expected and {finance.pk, legal.pk} <= user.group_ids


def test_the_scope_of_a_fresh_reader_costs_one_query(reader, finance, django_assert_num_queries):
    user = _fresh(reader)
    with django_assert_num_queries(1):
        scope = access_scope_for(user)
    assert not scope.unrestricted and finance.pk in scope.group_ids


def test_librarians_and_superusers_are_unrestricted_and_inactive_users_see_nothing(librarian, reader, roles):
    assert access_scope_for(_fresh(librarian)).unrestricted
    admin = User.objects.create_superuser("admin@example.com", "pw-admin-1")
    assert access_scope_for(_fresh(admin)).unrestricted
    loaded = _fresh(admin)
    loaded.access_load()
    assert loaded.is_librarian is True
    admin.is_active = False
    admin.save()
    inactive = _fresh(admin)
    assert access_scope_for(inactive).is_empty
    inactive.access_load()
    assert inactive.is_librarian is False  # the same answer as the property: inactive is never a librarian
    assert access_scope_for(_fresh(reader)).unrestricted is False


def test_a_value_already_cached_is_kept(reader, roles, django_assert_num_queries):
    user = _fresh(reader)
    assert user.is_librarian is False  # cached by the property, as a view might have done
    reader.groups.add(roles[LIBRARIAN])
    with django_assert_num_queries(1):
        user.access_load()  # only the groups are loaded; the cached role stays what this object said
    assert user.is_librarian is False and roles[LIBRARIAN].pk in user.group_ids
    with django_assert_num_queries(0):
        user.access_load()  # both cached: nothing to read
    assert _fresh(reader).is_librarian is True  # the next question's fresh user sees the new role
