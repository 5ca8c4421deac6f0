"""Account services: roles, the development demo users, revocation of a user's JWT refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from docintel.models import User
from docintel.roles import LIBRARIAN, READER

# What a librarian may do in the admin: curate documents, read chunks, audit, questions and answers.
LIBRARIAN_PERMISSIONS = (
    ("documents", "add_document"),
    ("documents", "change_document"),
    ("documents", "delete_document"),
    ("documents", "view_document"),
    ("documents", "view_chunk"),
    ("documents", "view_quarantinedpassage"),
    ("documents", "change_quarantinedpassage"),
    ("audit", "view_auditlog"),
    ("chat", "view_query"),
    ("chat", "view_response"),
    ("chat", "view_feedback"),
    ("chat", "view_chatsession"),
    ("auth", "view_group"),
)


def roles_ensure() -> dict[str, Group]:
    """Create the Librarian and Reader groups with their permissions (idempotent)."""
    librarian, _ = Group.objects.get_or_create(name=LIBRARIAN)
    reader, _ = Group.objects.get_or_create(name=READER)
    perms = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in LIBRARIAN_PERMISSIONS
    ]
    librarian.permissions.add(*perms)
    return {LIBRARIAN: librarian, READER: reader}


@dataclass(frozen=True)
class DemoAccount:
    """A well-known development account: its email, its password (printed by ``bootstrap_demo``) and its role group."""

    email: str
    password: str
    role: str


DEMO_ACCOUNTS = (
    DemoAccount("librarian@docintel.local", "librarian-demo-pass", LIBRARIAN),
    DemoAccount("reader@docintel.local", "reader-demo-pass", READER),
)


@transaction.atomic
def demo_users_ensure() -> list[DemoAccount]:
    """Create (or reset) the demo librarian and reader. Development only: the caller checks DEBUG."""
    groups = roles_ensure()
    for account in DEMO_ACCOUNTS:
        user = User.objects.filter(email=account.email).first() or User(email=account.email)
        user.is_staff = account.role == LIBRARIAN
        user.is_active = True
        user.set_password(account.password)
        user.save()
        user.groups.add(groups[account.role])
    return list(DEMO_ACCOUNTS)


def user_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token of ``user`` that is still outstanding (portal logout, "sign out everywhere").

    Access tokens are short-lived (``SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]``) and expire on their own.

    Args:
        user: whose tokens to revoke.

    Returns:
        How many tokens were newly blacklisted.
    """
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    ).only("id")
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


def user_current(*, user_id: int | None) -> User | None:
    """The user as the database has it now (roles, groups, ``is_active`` read afresh), None when inactive or gone.

    A long-lived socket calls it for each question, so a demotion or a deactivation counts from the next question.
    """
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()
