"""The custom user: email login, roles through groups (Librarian curates, Reader chats) plus superusers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from docintel.roles import LIBRARIAN


class UserManager(BaseUserManager["User"]):
    """Creates users keyed by email."""

    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Create an ordinary user (neither staff nor superuser unless ``extra`` says so).

        Args:
            email: the sign-in address; normalised and stored lower-case.
            password: the raw password, stored hashed; None leaves the account without a usable password.
            **extra: other User fields (``display_name``, ``is_staff``, ...).

        Returns:
            The saved user.

        Raises:
            ValueError: ``email`` is empty.
        """
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """Create a staff superuser (``manage.py createsuperuser``): every permission, and a librarian's reading rights.

        Args:
            email: the sign-in address; normalised and stored lower-case.
            password: the raw password, stored hashed.
            **extra: other User fields; ``is_staff`` and ``is_superuser`` are forced on.

        Returns:
            The saved user.

        Raises:
            ValueError: ``email`` is empty.
        """
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with an email address."""

    username = None  # type: ignore[assignment]  # email replaces the username field of AbstractUser
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]  # email-keyed manager

    class Meta:
        """Users are listed by email address (admin lists, querysets without an explicit order)."""

        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ("email",)

    def __str__(self) -> str:
        """The email address: how a user is named in the admin, in audit rows and in log lines."""
        return self.email

    @cached_property
    def is_librarian(self) -> bool:
        """Librarians (and superusers) curate documents and may read all of them."""
        return self._librarian(lambda: self.groups.filter(name=LIBRARIAN).exists())

    def _librarian(self, in_librarian_group: Callable[[], bool]) -> bool:
        """The librarian rule, with the group test given (a query, or the groups already read)."""
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        return in_librarian_group()

    @cached_property
    def group_ids(self) -> frozenset[int]:
        """Ids of the groups this user belongs to (their access groups)."""
        return frozenset(self.groups.values_list("id", flat=True))

    def access_load(self) -> None:
        """Fill :attr:`is_librarian` and :attr:`group_ids` from one query of the user's groups (each alone is one).

        A question reads its user afresh and needs both (its access scope): one round trip instead of two. A value
        already cached is kept, so the two never disagree with what this object said before.
        """
        if "is_librarian" in self.__dict__ and "group_ids" in self.__dict__:
            return
        rows = list(self.groups.values_list("id", "name"))
        self.__dict__.setdefault("group_ids", frozenset(pk for pk, _ in rows))
        librarian = self._librarian(lambda: any(name == LIBRARIAN for _, name in rows))
        self.__dict__.setdefault("is_librarian", librarian)
